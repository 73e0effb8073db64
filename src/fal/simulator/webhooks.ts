import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { Outcome } from './queue-routes.ts';
import { backoffDelay } from '../../lib/backoff.ts';
import { errorMessage } from '../../lib/errors.ts';

export type WebhookSigner = ReturnType<typeof createWebhookSigner>;

/**
 * fal's webhook signature (protocol §7.3): Ed25519 over
 * "<request-id>\n<user-id>\n<unix-seconds>\n<hex sha256 of the raw body>", hex-encoded, with the public key
 * published as a JWKS. The simulator signs with a key pair made when the signer is created.
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
  if (typeof value === 'string')
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${pythonJson(k)}: ${pythonJson(v)}`).join(', ')}}`;
}

/** The delivery body for a completed request (protocol §7.2): OK with the result, or ERROR with the status code. */
export function webhookPayload(requestId: string, outcome: Outcome): Record<string, unknown> {
  const base = { request_id: requestId, gateway_request_id: requestId };
  if (outcome.status >= 200 && outcome.status < 300) return { ...base, status: 'OK', error: null, payload: outcome.body };
  return { ...base, status: 'ERROR', error: `Invalid status code: ${outcome.status}`, payload: outcome.body ?? null };
}

export interface WebhookDispatcherOptions {
  signer: WebhookSigner;
  /** fal tries 10 times over ~2 h (protocol §7.1); what counts as a failure is unverified: here non-2xx or no answer. */
  retry: { attempts: number; baseDelayMs: number };
  /** setTimeout that the simulator clears on stop(). */
  schedule(fn: () => void, ms: number): void;
  /** Called once per attempt that got an HTTP answer, whatever its status. */
  onAttempt(): void;
  log(line: string): void;
}

const ATTEMPT_TIMEOUT_MS = 10_000;

/** Posts signed deliveries with exponential backoff; stop() aborts the ones in flight. */
export function createWebhookDispatcher(options: WebhookDispatcherOptions) {
  const inFlight = new Set<AbortController>();
  let stopped = false;

  async function attempt(url: string, requestId: string, body: string, n: number, settled: () => void): Promise<void> {
    if (stopped) return;
    const abort = new AbortController();
    inFlight.add(abort);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: options.signer.headers(body, requestId),
        body,
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      await response.body?.cancel();
      options.onAttempt();
      if (response.ok) return settled();
      options.log(`webhook for ${requestId}: attempt ${n} answered ${response.status}`);
    } catch (error) {
      if (stopped) return;
      options.log(`webhook for ${requestId}: attempt ${n} failed: ${errorMessage(error)}`);
    } finally {
      inFlight.delete(abort);
    }
    if (n < options.retry.attempts)
      options.schedule(() => void attempt(url, requestId, body, n + 1, settled), backoffDelay(n, { baseMs: options.retry.baseDelayMs }));
    else settled();
  }

  return {
    /**
     * The body is serialised once, so every retry carries the same bytes (and a fresh timestamp and signature).
     * `settled` is called once it was delivered or given up on; a delivery that stop() cut short never settles.
     */
    deliver(url: string, requestId: string, outcome: Outcome, settled: () => void = () => {}): void {
      void attempt(url, requestId, pythonJson(webhookPayload(requestId, outcome)), 1, settled);
    },
    start(): void {
      stopped = false;
    },
    stop(): void {
      stopped = true;
      for (const abort of inFlight) abort.abort();
      inFlight.clear();
    },
  };
}
