import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '../db/index.ts';
import { isUuid } from '../lib/uuid.ts';

/** Keys look like `rg_<43 url-safe characters>` (256 random bits): recognisable in a leak scan, unguessable. */
export const KEY_PREFIX = 'rg_';
const KEY_PATTERN = /^rg_[A-Za-z0-9_-]{43}$/;
const SHOWN_PREFIX_LENGTH = 10;

export type ApiKeyScope = 'TENANT' | 'ADMIN';

export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  scope: ApiKeyScope;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export class ApiKeyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeyInputError';
  }
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** Creates a key and returns it in clear once; only its hash is stored. */
export async function createApiKey(
  db: PrismaClient,
  input: { tenantId: string; name: string; scope?: ApiKeyScope },
): Promise<{ key: string; info: ApiKeyInfo }> {
  if (!NAME.test(input.tenantId))
    throw new ApiKeyInputError('tenant: 1-64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
  if (!NAME.test(input.name))
    throw new ApiKeyInputError('name: 1-64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const row = await db.apiKey.create({
    data: {
      tenantId: input.tenantId,
      name: input.name,
      prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
      hash: hashKey(key),
      scope: input.scope ?? 'TENANT',
    },
  });
  return { key, info: row };
}

export async function listApiKeys(db: PrismaClient, filter: { tenantId?: string } = {}): Promise<ApiKeyInfo[]> {
  return db.apiKey.findMany({
    where: filter.tenantId ? { tenantId: filter.tenantId } : {},
    orderBy: [{ tenantId: 'asc' }, { createdAt: 'asc' }],
    select: { id: true, tenantId: true, name: true, prefix: true, scope: true, createdAt: true, lastUsedAt: true, revokedAt: true },
  });
}

/**
 * Revokes by id or by the shown prefix (unambiguous prefixes only). Idempotent: revoking a revoked key
 * keeps its first revocation time. Running servers notice within AUTH_RECHECK_MS and end its subscriptions.
 */
export async function revokeApiKey(db: PrismaClient, idOrPrefix: string): Promise<ApiKeyInfo> {
  const byId = isUuid(idOrPrefix);
  const matches = await db.apiKey.findMany({ where: byId ? { id: idOrPrefix } : { prefix: { startsWith: idOrPrefix } }, take: 2 });
  if (matches.length === 0) throw new ApiKeyInputError(`no API key with id or prefix "${idOrPrefix}"`);
  if (matches.length > 1) throw new ApiKeyInputError(`"${idOrPrefix}" matches more than one key; use its id`);
  await db.apiKey.updateMany({ where: { id: matches[0].id, revokedAt: null }, data: { revokedAt: new Date() } });
  return db.apiKey.findUniqueOrThrow({ where: { id: matches[0].id } });
}
