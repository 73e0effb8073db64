import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

export interface WebhookVerifierOptions {
  /** fal's JWKS (protocol §7.3). */
  jwksUrl: string;
  toleranceSeconds: number;
  /** How long fetched keys are trusted before they are fetched again (protocol §7.3: at most 24 h). */
  cacheMs?: number;
  /** Minimum time between refreshes triggered by an unknown key, so forged requests cannot hammer the JWKS. */
  refreshCooldownMs?: number;
  now?: () => number;
}

export type WebhookVerdict = { ok: true; requestId: string } | { ok: false; reason: string };

/**
 * Verifies fal webhook deliveries exactly as protocol §7.3 describes: the four X-Fal-Webhook-* headers, a
 * timestamp within the tolerance, and an Ed25519 signature over
 * "<request-id>\n<user-id>\n<timestamp>\n<hex sha256 of the raw body>" by any key in fal's JWKS.
 */
export function createWebhookVerifier(options: WebhookVerifierOptions) {
  const cacheMs = options.cacheMs ?? 24 * 60 * 60 * 1000;
  const cooldownMs = options.refreshCooldownMs ?? 60_000;
  const now = options.now ?? Date.now;
  let keys: KeyObject[] = [];
  let fetchedAt = -Infinity;
  let refreshing: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    refreshing ??= (async () => {
      try {
        const response = await fetch(options.jwksUrl, { signal: AbortSignal.timeout(10_000) });
        if (!response.ok) throw new Error(`JWKS answered HTTP ${response.status}`);
        const body = (await response.json()) as { keys?: Array<Record<string, unknown>> };
        keys = (body.keys ?? [])
          .filter((k) => k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string')
          .map((k) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k.x as string }, format: 'jwk' }));
        fetchedAt = now();
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  const header = (headers: Headers, name: string) => headers.get(name)?.trim() ?? '';

  return {
    async verify(headers: Headers, rawBody: Uint8Array): Promise<WebhookVerdict> {
      const requestId = header(headers, 'x-fal-webhook-request-id');
      const userId = header(headers, 'x-fal-webhook-user-id');
      const timestamp = header(headers, 'x-fal-webhook-timestamp');
      const signatureHex = header(headers, 'x-fal-webhook-signature');
      if (!requestId || !userId || !timestamp || !signatureHex) return { ok: false, reason: 'missing webhook signature headers' };
      if (!/^\d+$/.test(timestamp) || Math.abs(now() / 1000 - Number(timestamp)) > options.toleranceSeconds) {
        return { ok: false, reason: 'webhook timestamp is outside the allowed window' };
      }
      if (!/^[0-9a-fA-F]{128}$/.test(signatureHex)) return { ok: false, reason: 'malformed webhook signature' };
      const digest = createHash('sha256').update(rawBody).digest('hex');
      const message = Buffer.from(`${requestId}\n${userId}\n${timestamp}\n${digest}`, 'utf8');
      const signature = Buffer.from(signatureHex, 'hex');
      const matches = () => keys.some((key) => verify(null, message, key, signature));

      try {
        if (now() - fetchedAt > cacheMs) await refresh();
        if (matches()) return { ok: true, requestId };
        // Maybe fal rotated its keys: refresh once (rate-limited) and try again.
        if (now() - fetchedAt > cooldownMs) {
          await refresh();
          if (matches()) return { ok: true, requestId };
        }
      } catch {
        return { ok: false, reason: 'webhook signing keys are unavailable' };
      }
      return { ok: false, reason: 'invalid webhook signature' };
    },
  };
}

export type WebhookVerifier = ReturnType<typeof createWebhookVerifier>;
