import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '../db/index.ts';

/**
 * Signed, expiring URLs for archived videos: a `<video src>` cannot send an Authorization header, so the
 * URL itself carries the proof that a caller allowed to see the generation asked for it.
 */
export interface UrlSigner {
  /** The query string (`expires=…&sig=…`) for a path. */
  sign(path: string, now?: number): string;
  verify(path: string, expires: string | null, sig: string | null, now?: number): boolean;
}

export function createUrlSigner(secret: string, ttlSeconds: number): UrlSigner {
  const mac = (path: string, expires: string) => createHmac('sha256', secret).update(`${path}\n${expires}`).digest('base64url');
  return {
    sign(path, now = Date.now()) {
      // Rounded to the hour: URLs stay stable across queries (browser caches keep working) for a while.
      const expires = String(Math.ceil((now / 1000 + ttlSeconds) / 3600) * 3600);
      return `expires=${expires}&sig=${mac(path, expires)}`;
    },
    verify(path, expires, sig, now = Date.now()) {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < now) return false;
      const expected = Buffer.from(mac(path, expires));
      const given = Buffer.from(sig);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}

/** The configured secret, or one generated once and kept in the database so every instance shares it. */
export async function loadSigningSecret(db: PrismaClient, configured: string | null): Promise<string> {
  if (configured) return configured;
  const name = 'video-url-signing';
  // Two instances starting together may both try to create it: the first one wins, both read the same.
  await db.serverSecret.create({ data: { name, value: randomBytes(32).toString('base64url') } }).catch((error: { code?: string }) => {
    if (error.code !== 'P2002') throw error;
  });
  return (await db.serverSecret.findUniqueOrThrow({ where: { name } })).value;
}
