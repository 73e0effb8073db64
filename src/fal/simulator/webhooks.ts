import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/**
 * fal's webhook signature (protocol §7.3): Ed25519 over
 * "<request-id>\n<user-id>\n<unix-seconds>\n<hex sha256 of the raw body>", hex-encoded, with the public key
 * published as a JWKS. The simulator signs with a key pair made at start.
 */
export function createWebhookSigner(userId = 'simulator-user') {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
  return {
    jwks: { keys: [{ kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: 'simulator-1', use: 'sig', alg: 'EdDSA' }] },
    headers(body: string, requestId: string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
      return signedHeaders(privateKey, userId, body, requestId, timestamp);
    },
  };
}

function signedHeaders(key: KeyObject, userId: string, body: string, requestId: string, timestamp: number): Record<string, string> {
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  const message = Buffer.from(`${requestId}\n${userId}\n${timestamp}\n${digest}`, 'utf8');
  return {
    'content-type': 'application/json',
    'x-fal-webhook-request-id': requestId,
    'x-fal-webhook-user-id': userId,
    'x-fal-webhook-timestamp': String(timestamp),
    'x-fal-webhook-signature': sign(null, message, key).toString('hex'),
  };
}

/**
 * JSON as Python's json.dumps(sort_keys=True) writes it, which is what fal's deliveries look like (protocol
 * §7.2): sorted keys, ", " and ": " separators, non-ASCII escaped. Verifiers must hash these exact bytes.
 */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`).join(', ')}}`;
}
