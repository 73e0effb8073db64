import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { PrismaClient } from '../db/index.ts';
import type { WebhookVerifier } from '../fal/webhook-verifier.ts';
import type { GenerationService } from '../generations/service.ts';
import { parseRange } from '../lib/byte-range.ts';
import type { Logger } from '../logger.ts';

const MAX_WEBHOOK_BYTES = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export interface RouteDeps {
  db: PrismaClient;
  generations: GenerationService;
  verifier: WebhookVerifier;
  logger: Logger;
  /** Readiness checks by name: true when that dependency is usable. */
  ready: () => Promise<Record<string, boolean>>;
  /**
   * Whether this request may read the generation's video (a valid signed URL, or an API key whose tenant
   * owns it). Refusals look exactly like an unknown id.
   */
  mayReadVideo: (request: Request, url: URL, generationId: string) => Promise<boolean>;
}

/** Plain HTTP routes next to /graphql: fal webhooks in, archived videos out, health. */
export function createRoutes(deps: RouteDeps) {
  return async (request: Request): Promise<Response | null> => {
    const url = new URL(request.url);
    if (url.pathname === '/webhooks/fal') {
      if (request.method !== 'POST') return json(405, { error: 'use POST' }, { allow: 'POST' });
      return falWebhook(deps, request, url);
    }
    const video = /^\/videos\/([^/]+?)(\.mp4)?$/.exec(url.pathname);
    if (video) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'use GET' }, { allow: 'GET, HEAD' });
      const id = video[1].toLowerCase();
      if (!UUID.test(id) || !(await deps.mayReadVideo(request, url, id))) return json(404, { error: 'no video for this id' });
      return archivedVideo(deps, request, id);
    }
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
  let body: { request_id?: unknown; status?: unknown; payload?: unknown; error?: unknown };
  try {
    body = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return json(400, { error: 'webhook body is not valid JSON' });
  }
  if (body.request_id !== verdict.requestId || (body.status !== 'OK' && body.status !== 'ERROR')) {
    return json(400, { error: 'webhook body does not match its signed request id or has no valid status' });
  }
  const hint = url.searchParams.get('generation');
  const outcome = await deps.generations.handleWebhook({
    requestId: verdict.requestId,
    status: body.status,
    payload: body.payload ?? null,
    error: typeof body.error === 'string' ? body.error : null,
    generationId: hint && UUID.test(hint) ? hint.toLowerCase() : null,
  });
  if (outcome === 'unknown') return json(404, { error: 'unknown request id' });
  return json(200, { ok: true, outcome });
}

/**
 * Our stable URL for a generation's video: the archived copy with Range support once it exists, a redirect
 * to fal's (temporary) URL until then.
 */
async function archivedVideo(deps: RouteDeps, request: Request, id: string): Promise<Response> {
  const notFound = () => json(404, { error: 'no video for this id' });
  if (!UUID.test(id)) return notFound();
  const output = await deps.db.videoOutput.findUnique({ where: { generationId: id.toLowerCase() } });
  if (!output) return notFound();
  if (output.archiveStatus !== 'ARCHIVED' || !output.archivePath) {
    return new Response(null, { status: 302, headers: { location: output.sourceUrl, 'cache-control': 'no-store' } });
  }
  let size: number;
  try {
    size = (await stat(output.archivePath)).size;
  } catch {
    // Archived by an instance whose ARCHIVE_DIR this one cannot see: fal's copy is the next best thing.
    return new Response(null, { status: 302, headers: { location: output.sourceUrl, 'cache-control': 'no-store' } });
  }
  const common = {
    'content-type': output.contentType ?? 'video/mp4',
    'accept-ranges': 'bytes',
    etag: `"${output.archiveSha256}"`,
    'cache-control': 'public, max-age=31536000, immutable',
  };
  const range = parseRange(request.headers.get('range'), size, { strict: true });
  if (range.kind === 'malformed') {
    return new Response(`Malformed Range header: expected "bytes=<start>-<end>"\n`, { status: 416, headers: { 'content-range': `bytes */${size}`, 'content-type': 'text/plain' } });
  }
  if (range.kind === 'unsatisfiable') {
    return new Response(`Range not satisfiable: the file has ${size} bytes\n`, { status: 416, headers: { 'content-range': `bytes */${size}`, 'content-type': 'text/plain' } });
  }
  const [start, end, status] = range.kind === 'partial' ? [range.start, range.end, 206] : [0, size - 1, 200];
  const headers: Record<string, string> = { ...common, 'content-length': String(end - start + 1) };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  if (request.method === 'HEAD' || size === 0) return new Response(null, { status, headers });
  const body = Readable.toWeb(createReadStream(output.archivePath, { start, end })) as ReadableStream;
  return new Response(body, { status, headers });
}
