import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseRange } from '../../lib/byte-range.ts';
import { readBody, sendJson } from './http-util.ts';

const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

interface StoredFile {
  contentType: string;
  fileName: string;
  bytes: Buffer | null;
}

/**
 * fal's storage flow (protocol §8): POST /storage/upload/initiate returns an upload_url (here, on the
 * simulator) and the file_url it will be served at; the client PUTs the raw bytes to upload_url.
 */
export function createFileStore(origin: () => string) {
  const files = new Map<string, StoredFile>();

  return {
    async initiate(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const raw = await readBody(req, 64 * 1024);
      let meta: { content_type?: unknown; file_name?: unknown } = {};
      try {
        meta = raw && raw.length ? JSON.parse(raw.toString('utf8')) : {};
      } catch {
        return sendJson(res, 422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
      }
      const token = randomUUID();
      const fileName = typeof meta.file_name === 'string' && meta.file_name ? meta.file_name.replace(/[^\w.-]/g, '_') : 'upload.bin';
      files.set(token, { contentType: typeof meta.content_type === 'string' ? meta.content_type : 'application/octet-stream', fileName, bytes: null });
      sendJson(res, 200, { upload_url: `${origin()}/storage/upload/put/${token}`, file_url: `${origin()}/files/uploads/${token}/${fileName}` });
    },

    async put(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
      const file = files.get(token);
      if (!file) return sendJson(res, 404, { detail: 'Unknown upload' });
      const bytes = await readBody(req, MAX_UPLOAD_BYTES);
      if (bytes === null) return sendJson(res, 413, { detail: 'File too large' });
      file.bytes = bytes;
      if (typeof req.headers['content-type'] === 'string') file.contentType = req.headers['content-type'];
      res.writeHead(200).end();
    },

    serveUpload(req: IncomingMessage, res: ServerResponse, token: string): void {
      const file = files.get(token);
      if (!file?.bytes) return sendJson(res, 404, { detail: 'File not found' });
      serveBytes(req, res, file.bytes, file.contentType);
    },

    clear(): void {
      files.clear();
    },
  };
}

/** Serves bytes with Range support, so a browser can seek in a video. */
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
