import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { PrismaClient } from '../db/index.ts';

/** An endpoint's signing secret as Standard Webhooks writes it: `whsec_` and base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Endpoint secrets must still sign after they were shown, so they cannot be hashed: they are sealed with
 * AES-256-GCM under a key derived from a server secret. A dump of the endpoint table alone does not reveal them.
 */
export interface SecretBox {
  seal(secret: string): string;
  open(sealed: string): string;
}

export function createSecretBox(serverSecret: string): SecretBox {
  const key = Buffer.from(hkdfSync('sha256', serverSecret, '', 'reelgraph outbound webhook secrets v1', 32));
  return {
    seal(secret) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), sealed].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    },
    open(value) {
      const [version, iv, tag, sealed] = value.split('.');
      if (version !== 'v1' || !iv || !tag || !sealed) throw new Error('unreadable webhook secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** The server secret the box key comes from: generated once and kept in the database, so every instance shares it. */
export async function loadWebhookServerSecret(db: PrismaClient): Promise<string> {
  const name = 'webhook-secret-encryption';
  // Two instances starting together may both try to create it: the first one wins, both read the same.
  await db.serverSecret.create({ data: { name, value: randomBytes(32).toString('base64url') } }).catch((error: { code?: string }) => {
    if (error.code !== 'P2002') throw error;
  });
  return (await db.serverSecret.findUniqueOrThrow({ where: { name } })).value;
}
