import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { gql } from '../helpers/graphql.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';

const MiB = 1024 * 1024;

/** `total` bytes of `fill`, in 64 KiB chunks, made as they are read (the test itself holds none of it). */
function generated(total: number, prefix = '', fill = 'x'): Readable {
  let sent = 0;
  const chunk = Buffer.alloc(64 * 1024, fill);
  return new Readable({
    read() {
      if (sent === 0 && prefix) {
        sent += prefix.length;
        return void this.push(prefix);
      }
      if (sent >= total) return void this.push(null);
      const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
      sent += part.length;
      this.push(part);
    },
  });
}

/**
 * POSTs a chunked body (no Content-Length) and resolves with the response, which may come while the body is
 * still being sent; the server then closes the connection, which ends the upload.
 */
function postChunked(url: string, body: Readable, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    // Once the server has answered and closed, the rest of the upload fails: that is the point.
    req.on('error', (error) => reject(error));
    body.pipe(req);
  });
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

describe('body limits whatever the framing (real server process)', () => {
  let dataDir: string;
  let server: ServerProcess;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-body-'));
    server = await spawnServer({ PORT: '0', DATA_DIR: dataDir, FAL_BACKEND: 'simulator', SIMULATOR_PRESET: 'fast' });
  }, 60_000);
  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a 200 MiB chunked webhook body gets 413 while streaming, and the server\'s memory barely moves', async () => {
    const origin = new URL(server.url).origin;
    const pid = server.child.pid as number;
    // Warm-up: the webhook route's code paths are loaded before the baseline is taken.
    const small = await postChunked(`${origin}/webhooks/fal`, generated(1000, '{"request_id":"x"'), { 'content-type': 'application/json' });
    expect(small.status).toBe(401);
    const before = await rssBytes(pid);
    const response = await postChunked(`${origin}/webhooks/fal`, generated(200 * MiB), { 'content-type': 'application/json' }).catch((error: Error) => ({ status: -1, headers: {} as Record<string, unknown>, text: error.message }));
    const after = await rssBytes(pid);
    // Read whole, 200 MiB would be at least 200 MiB of RSS (1.4 GB for 400 MiB was measured before the fix).
    expect(after - before).toBeLessThan(8 * MiB);
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe('close');
    // And it keeps serving.
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  }, 60_000);
});

describe('body limits on GraphQL (chunked JSON and multipart)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_BODY_BYTES: String(64 * 1024), MAX_UPLOAD_BYTES: String(64 * 1024) } });
  }, 60_000);
  afterAll(() => server?.dispose());

  it('a chunked JSON body over MAX_BODY_BYTES gets 413 while streaming; one under it works', async () => {
    const big = await postChunked(server.url, generated(5 * MiB, '{"query":"{ serverInfo { version } }", "x": "'), { 'content-type': 'application/json' });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.text).errors[0].message).toMatch(/too large \(limit 65536 bytes\)/);
    const ok = await postChunked(server.url, Readable.from([JSON.stringify({ query: '{ serverInfo { version } }' })]), { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).data.serverInfo.version).toBeTruthy();
  });

  it('a chunked multipart upload over its limit gets 413 while streaming', async () => {
    const boundary = 'reelgraphboundary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"{ serverInfo { version } }"}\r\n--${boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{}\r\n--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`;
    const response = await postChunked(server.url, generated(20 * MiB, head), { 'content-type': `multipart/form-data; boundary=${boundary}`, 'x-graphql-yoga-csrf': '1' });
    expect(response.status).toBe(413);
  });
});
