import { Readable } from 'node:stream';
import { VIDEO_SECURITY_HEADERS, videoContentType } from '../archive/content-type.ts';
import type { ArchiveStore } from '../archive/store.ts';
import type { PrismaClient } from '../db/index.ts';
import { parseRange } from '../lib/byte-range.ts';
import type { Logger } from '../logger.ts';
import { errorMessage } from '../lib/errors.ts';
import { isUuid } from '../lib/uuid.ts';

export interface VideoRouteDeps {
  db: PrismaClient;
  logger: Logger;
  archive: {
    store: ArchiveStore;
    /** `proxy`: bytes stream through this server; `redirect`: GETs are sent to a presigned URL of the store. */
    delivery: 'proxy' | 'redirect';
    presignTtlSeconds: number;
    /** Whether fal's (temporary) URL may be redirected to before the archive exists (the download policy's host check). */
    mayRedirectTo: (url: string) => boolean;
  };
  /**
   * Whether this request may read the generation's video (a valid signed URL, or an API key whose tenant
   * owns it). Refusals look exactly like an unknown id.
   */
  mayReadVideo: (request: Request, url: URL, generationId: string) => Promise<boolean>;
}

/** Every answer under /videos/ carries nosniff and a sandboxing CSP, whatever the stored file claims to be. */
function respond(body: BodyInit | null, status: number, headers: Record<string, string>): Response {
  return new Response(body, { status, headers: { ...headers, ...VIDEO_SECURITY_HEADERS } });
}
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  respond(JSON.stringify(body), status, { 'content-type': 'application/json', ...headers });

/**
 * `GET|HEAD /videos/:id.mp4`, our stable URL for a generation's video: the archived copy with Range support
 * once it exists (from this instance's store, whichever instance archived it), a redirect to fal's
 * (temporary) URL until then. Returns null for other paths.
 */
export async function videoRoute(deps: VideoRouteDeps, request: Request, url: URL): Promise<Response | null> {
  const match = /^\/videos\/([^/]+?)(\.mp4)?$/.exec(url.pathname);
  if (!match) return null;
  if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'use GET' }, { allow: 'GET, HEAD' });
  const id = match[1].toLowerCase();
  const notFound = () => json(404, { error: 'no video for this id' });
  if (!isUuid(id) || !(await deps.mayReadVideo(request, url, id))) return notFound();
  const output = await deps.db.videoOutput.findUnique({ where: { generationId: id } });
  if (!output) return notFound();
  const toSource = () =>
    deps.archive.mayRedirectTo(output.sourceUrl)
      ? respond(null, 302, { location: output.sourceUrl, 'cache-control': 'no-store' })
      : notFound();
  if (output.archiveStatus !== 'ARCHIVED' || !output.archivePath) return toSource();
  const location = output.archivePath;
  const { store } = deps.archive;
  let head: { size: number } | null;
  try {
    head = await store.head(location);
  } catch (error) {
    deps.logger.warn(`video ${id}: the archive store did not answer: ${errorMessage(error)}`);
    return json(503, { error: 'video storage is unavailable, try again' }, { 'retry-after': '5' });
  }
  // Archived somewhere this instance cannot read (another instance's ARCHIVE_DIR): fal's copy is the next best thing.
  if (!head) return toSource();
  const size = head.size;
  const contentType = videoContentType(output.contentType);
  const range = parseRange(request.headers.get('range'), size, { strict: true });
  if (range.kind === 'malformed') {
    return respond(`Malformed Range header: expected "bytes=<start>-<end>"\n`, 416, {
      'content-range': `bytes */${size}`,
      'content-type': 'text/plain',
    });
  }
  if (range.kind === 'unsatisfiable') {
    return respond(`Range not satisfiable: the file has ${size} bytes\n`, 416, {
      'content-range': `bytes */${size}`,
      'content-type': 'text/plain',
    });
  }
  const common = {
    'content-type': contentType,
    'accept-ranges': 'bytes',
    etag: `"${output.archiveSha256}"`,
    'cache-control': 'public, max-age=31536000, immutable',
  };
  const [start, end, status] = range.kind === 'partial' ? [range.start, range.end, 206] : [0, size - 1, 200];
  const headers: Record<string, string> = { ...common, 'content-length': String(end - start + 1) };
  if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
  if (request.method === 'HEAD' || size === 0) return respond(null, status, headers);
  try {
    if (deps.archive.delivery === 'redirect') {
      // Range and 416 were judged above; the client re-sends its Range header to the presigned URL.
      const signed = await store.presign(location, { contentType, ttlSeconds: deps.archive.presignTtlSeconds });
      if (signed) return respond(null, 302, { location: signed, 'cache-control': 'private, no-store' });
    }
    const stream = await store.read(location, { start, end });
    if (!stream) return toSource();
    return respond(Readable.toWeb(stream) as ReadableStream, status, headers);
  } catch (error) {
    deps.logger.warn(`video ${id}: reading the archive failed: ${errorMessage(error)}`);
    return json(503, { error: 'video storage is unavailable, try again' }, { 'retry-after': '5' });
  }
}
