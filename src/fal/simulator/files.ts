import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRange } from '../../lib/byte-range.ts';
import { readBody, sendJson } from './http-util.ts';

/** The client switches to multipart above 90 MB (protocol §8), so a single PUT never needs more than this. */
const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** Multipart uploads are held in memory too; this keeps a runaway test from eating the machine. */
const MAX_MULTIPART_BYTES = 512 * 1024 * 1024;

interface StoredFile {
  contentType: string;
  fileName: string;
  bytes: Buffer | null;
  /** Multipart uploads only: parts received so far, by part number, until `complete` assembles them. */
  parts: Map<number, { bytes: Buffer; etag: string }> | null;
}

/** Where uploaded files are kept across restarts (the simulator's journal), when they are. */
export interface UploadKeeper {
  saveUpload(token: string, meta: { contentType: string; fileName: string }, bytes: Buffer): Promise<void>;
  loadUpload(token: string): Promise<{ contentType: string; fileName: string; bytes: Buffer } | null>;
}

/**
 * fal's storage flow (protocol §8): POST /storage/upload/initiate returns an upload_url (here, on the
 * simulator) and the file_url it will be served at; the client PUTs the raw bytes to upload_url with plain
 * fetch (no middleware), which is why both URLs must point at this server. Multipart: initiate-multipart, then
 * `PUT <upload_url>/<n>` per 10 MB part answering `{partNumber, etag}`, then `POST <upload_url>/complete`.
 * Files live in memory until stop(), or on disk with a keeper (then only uploads in progress are in memory).
 */
export function createFileStore(origin: () => string, keeper: UploadKeeper | null = null) {
  const files = new Map<string, StoredFile>();

  /** A finished upload: on disk with a keeper (and out of memory), else kept in memory. */
  async function finished(token: string, file: StoredFile, bytes: Buffer): Promise<void> {
    file.parts = null;
    if (!keeper) {
      file.bytes = bytes;
      return;
    }
    await keeper.saveUpload(token, { contentType: file.contentType, fileName: file.fileName }, bytes);
    files.delete(token);
  }

  return {
    async initiate(req: IncomingMessage, res: ServerResponse, kind: 'single' | 'multipart'): Promise<void> {
      const raw = await readBody(req, 64 * 1024);
      let meta: { content_type?: unknown; file_name?: unknown };
      try {
        meta = raw && raw.length ? (JSON.parse(raw.toString('utf8')) as typeof meta) : {};
      } catch {
        return sendJson(res, 422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
      }
      const token = randomUUID();
      const fileName = typeof meta.file_name === 'string' && meta.file_name ? meta.file_name.replace(/[^\w.-]/g, '_') : 'upload.bin';
      const contentType = typeof meta.content_type === 'string' ? meta.content_type : 'application/octet-stream';
      files.set(token, { contentType, fileName, bytes: null, parts: kind === 'multipart' ? new Map() : null });
      const uploadPath = kind === 'multipart' ? 'multipart' : 'put';
      sendJson(res, 200, {
        upload_url: `${origin()}/storage/upload/${uploadPath}/${token}`,
        file_url: `${origin()}/files/uploads/${token}/${fileName}`,
      });
    },

    async put(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
      const file = files.get(token);
      if (!file || file.parts) return sendJson(res, 404, { detail: 'Unknown upload' });
      const bytes = await readBody(req, MAX_UPLOAD_BYTES);
      if (bytes === null) return sendJson(res, 413, { detail: 'File too large' });
      if (typeof req.headers['content-type'] === 'string') file.contentType = req.headers['content-type'];
      await finished(token, file, bytes);
      res.writeHead(200).end();
    },

    async putPart(req: IncomingMessage, res: ServerResponse, token: string, partNumber: number): Promise<void> {
      const file = files.get(token);
      if (!file?.parts || !Number.isSafeInteger(partNumber) || partNumber < 1) return sendJson(res, 404, { detail: 'Unknown upload' });
      let held = 0;
      for (const [n, part] of file.parts) if (n !== partNumber) held += part.bytes.length;
      const bytes = await readBody(req, MAX_MULTIPART_BYTES - held);
      if (bytes === null) return sendJson(res, 413, { detail: 'File too large' });
      const etag = createHash('md5').update(bytes).digest('hex');
      file.parts.set(partNumber, { bytes, etag });
      sendJson(res, 200, { partNumber, etag });
    },

    async complete(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
      const file = files.get(token);
      if (!file?.parts) return sendJson(res, 404, { detail: 'Unknown upload' });
      const raw = await readBody(req, 1024 * 1024);
      let listed: Array<{ partNumber?: unknown; etag?: unknown }>;
      try {
        listed = (JSON.parse(raw?.toString('utf8') ?? '') as { parts: typeof listed }).parts;
        if (!Array.isArray(listed) || listed.length === 0) throw new Error('no parts');
      } catch {
        return sendJson(res, 422, { detail: [{ loc: ['body', 'parts'], msg: 'Field required', type: 'missing' }] });
      }
      const chunks: Buffer[] = [];
      for (const entry of listed) {
        const part = file.parts.get(Number(entry.partNumber));
        if (!part || part.etag !== entry.etag)
          return sendJson(res, 400, { detail: `Part ${String(entry.partNumber)} is missing or its etag does not match` });
        chunks.push(part.bytes);
      }
      await finished(token, file, Buffer.concat(chunks));
      sendJson(res, 200, { file_url: `${origin()}/files/uploads/${token}/${file.fileName}` });
    },

    async serveUpload(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
      const file = files.get(token);
      if (file?.bytes) return serveBytes(req, res, file.bytes, file.contentType);
      const kept = file ? null : await keeper?.loadUpload(token);
      if (!kept) return sendJson(res, 404, { detail: 'File not found' });
      serveBytes(req, res, kept.bytes, kept.contentType);
    },

    clear(): void {
      files.clear();
    },
  };
}

/**
 * Serves bytes with single-range support (206, Accept-Ranges, 416 past the end) so a browser <video> can
 * seek; HEAD gets the headers only. A malformed Range is ignored and the whole file sent, as CDNs do.
 */
export function serveBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, contentType: string): void {
  const range = parseRange(req.headers.range, bytes.length);
  const common = { 'content-type': contentType, 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=3600' };
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'content-range': `bytes */${bytes.length}` }).end();
    return;
  }
  if (range.kind === 'partial') {
    const slice = bytes.subarray(range.start, range.end + 1);
    res.writeHead(206, { ...common, 'content-length': slice.length, 'content-range': `bytes ${range.start}-${range.end}/${bytes.length}` });
    res.end(req.method === 'HEAD' ? undefined : slice);
    return;
  }
  res.writeHead(200, { ...common, 'content-length': bytes.length });
  res.end(req.method === 'HEAD' ? undefined : bytes);
}
