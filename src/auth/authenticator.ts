import type { PrismaClient } from '../db/index.ts';
import { DEFAULT_TENANT, type Caller } from '../generations/caller.ts';
import type { Logger } from '../logger.ts';
import { hashKey } from './keys.ts';
import { errorMessage } from '../lib/errors.ts';

/** Who made a request, and through which key (null when the server runs open). */
export interface Identity {
  caller: Caller;
  keyId: string | null;
}

export type AuthOutcome = { ok: true; identity: Identity } | { ok: false; reason: 'missing' | 'invalid'; message: string };

export interface Authenticator {
  /** Checks an `Authorization` header value (or graphql-ws connectionParams.authorization). */
  authenticate(authorization: string | null | undefined): Promise<AuthOutcome>;
  /** True while requests without a key are accepted (no key exists and the server listens on loopback). */
  isOpen(): Promise<boolean>;
  /** Told the ids of keys that were revoked while something was using them. */
  onRevoked(listener: (keyIds: string[]) => void): () => void;
  /** Marks a key as held by a long-lived connection, so its revocation is noticed; returns the release. */
  hold(keyId: string): () => void;
  start(): void;
  stop(): void;
}

export interface AuthenticatorOptions {
  db: PrismaClient;
  mode: 'auto' | 'required';
  /** The address the server listens on: only loopback may ever run open. */
  host: string;
  recheckMs: number;
  logger: Logger;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

const OPEN_IDENTITY: Identity = { caller: { tenantId: DEFAULT_TENANT, admin: false }, keyId: null };
// A key's lastUsedAt is written at most this often (it is for people, not for security).
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * API-key authentication. Keys are looked up by their SHA-256; a verified key is remembered for
 * `recheckMs` at most, and every key held by an open connection is re-checked that often, so a revocation
 * (made by the CLI, maybe on another machine) takes effect within that bound everywhere.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { db } = options;
  const loopback = isLoopback(options.host);
  const cache = new Map<string, { identity: Identity; until: number }>();
  const held = new Map<string, number>();
  const listeners = new Set<(keyIds: string[]) => void>();
  const lastUsedWritten = new Map<string, number>();
  let keysExist = options.mode === 'required' || !loopback;
  let timer: NodeJS.Timeout | null = null;

  async function isOpen(): Promise<boolean> {
    if (keysExist) return false;
    // Once any key exists (even a revoked one) the server never goes back to open.
    if ((await db.apiKey.count()) > 0) keysExist = true;
    return !keysExist;
  }

  async function lookup(key: string): Promise<Identity | null> {
    const hash = hashKey(key);
    const cached = cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.identity;
    cache.delete(hash);
    const row = await db.apiKey.findUnique({ where: { hash } });
    if (!row || row.revokedAt) return null;
    keysExist = true;
    const identity: Identity = { caller: { tenantId: row.tenantId, admin: row.scope === 'ADMIN' }, keyId: row.id };
    cache.set(hash, { identity, until: Date.now() + options.recheckMs });
    if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    const written = lastUsedWritten.get(row.id) ?? 0;
    if (Date.now() - written > LAST_USED_RESOLUTION_MS) {
      lastUsedWritten.set(row.id, Date.now());
      void db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
    }
    return identity;
  }

  async function recheck() {
    const ids = [...held.keys()];
    if (ids.length === 0) return;
    const revoked = await db.apiKey.findMany({ where: { id: { in: ids }, revokedAt: { not: null } }, select: { id: true } });
    if (revoked.length === 0) return;
    const revokedIds = revoked.map((r) => r.id);
    for (const [hash, entry] of cache) if (entry.identity.keyId && revokedIds.includes(entry.identity.keyId)) cache.delete(hash);
    for (const id of revokedIds) held.delete(id);
    options.logger.info(`API key(s) revoked, ending their connections: ${revokedIds.join(', ')}`);
    for (const listener of listeners) listener(revokedIds);
  }

  return {
    async authenticate(authorization) {
      const key = parseAuthorization(authorization);
      if (key === null) {
        if (authorization) return { ok: false, reason: 'invalid', message: 'Malformed Authorization header: expected "Bearer <API key>"' };
        if (await isOpen()) return { ok: true, identity: OPEN_IDENTITY };
        return { ok: false, reason: 'missing', message: 'An API key is required: send "Authorization: Bearer <key>"' };
      }
      const identity = await lookup(key);
      if (!identity) return { ok: false, reason: 'invalid', message: 'Invalid or revoked API key' };
      return { ok: true, identity };
    },
    isOpen,
    onRevoked(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    hold(keyId) {
      held.set(keyId, (held.get(keyId) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const count = (held.get(keyId) ?? 1) - 1;
        if (count <= 0) held.delete(keyId);
        else held.set(keyId, count);
      };
    },
    start() {
      if (timer) return;
      timer = setInterval(
        () => void recheck().catch((error) => options.logger.warn(`API key re-check failed: ${errorMessage(error)}`)),
        options.recheckMs,
      );
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}

/** `Bearer <key>` (scheme case-insensitive), or a bare key (graphql-ws connectionParams); null when absent. */
export function parseAuthorization(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  const match = /^Bearer\s+(\S+)$/i.exec(trimmed);
  if (match) return match[1];
  if (/^\S+$/.test(trimmed) && !/^bearer$/i.test(trimmed)) return trimmed;
  return null;
}
