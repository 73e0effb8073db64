import type { PrismaClient } from '../db/index.ts';
import type { WebhookVerifier } from '../fal/webhook-verifier.ts';
import { parseWebhookBody } from '../fal/webhook-payload.ts';
import { isUuid } from '../lib/uuid.ts';
import type { GenerationService } from '../generations/service.ts';
import type { Logger } from '../logger.ts';
import { videoRoute, type VideoRouteDeps } from './videos.ts';

const MAX_WEBHOOK_BYTES = 1024 * 1024;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export interface RouteDeps extends VideoRouteDeps {
  db: PrismaClient;
  generations: GenerationService;
  verifier: WebhookVerifier;
  logger: Logger;
  /** Readiness checks by name: true when that dependency is usable. */
  ready: () => Promise<Record<string, boolean>>;
}

/** Plain HTTP routes next to /graphql: fal webhooks in, archived videos out, health. */
export function createRoutes(deps: RouteDeps) {
  return async (request: Request): Promise<Response | null> => {
    const url = new URL(request.url);
    if (url.pathname === '/webhooks/fal') {
      if (request.method !== 'POST') return json(405, { error: 'use POST' }, { allow: 'POST' });
      return falWebhook(deps, request, url);
    }
    if (url.pathname.startsWith('/videos/')) return videoRoute(deps, request, url);
    // Liveness: the process answers. Readiness: it can do its work (database, migrations, Redis).
    if (url.pathname === '/healthz') return json(200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      const checks = await deps.ready();
      const ok = Object.values(checks).every(Boolean);
      return json(ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks });
    }
    return null;
  };
}

/**
 * The body, read as it streams and given up past `limit` bytes (null), whatever the framing: a chunked body
 * has no length to check up front, and reading it whole first is how one request could fill the memory.
 */
async function readBounded(request: Request, limit: number): Promise<Uint8Array | null> {
  if (Number(request.headers.get('content-length') ?? '0') > limit) return null;
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    // Leaving the loop cancels the stream: nothing more is read.
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function falWebhook(deps: RouteDeps, request: Request, url: URL): Promise<Response> {
  const raw = await readBounded(request, MAX_WEBHOOK_BYTES);
  if (raw === null) return json(413, { error: 'webhook body too large' }, { connection: 'close' });
  // Signature first, on the raw bytes (never re-serialised JSON): nothing unverified touches the state.
  const verdict = await deps.verifier.verify(request.headers, raw);
  if (!verdict.ok) {
    deps.logger.warn(`rejected a fal webhook: ${verdict.reason}`);
    return json(401, { error: verdict.reason });
  }
  const hint = url.searchParams.get('generation');
  const parsed = parseWebhookBody(raw, verdict.requestId, hint && isUuid(hint) ? hint.toLowerCase() : null);
  if (!parsed.ok) return json(400, { error: parsed.reason });
  const outcome = await deps.generations.handleWebhook(parsed.delivery);
  if (outcome === 'unknown') return json(404, { error: 'unknown request id' });
  return json(200, { ok: true, outcome });
}
