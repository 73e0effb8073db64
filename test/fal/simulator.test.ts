import { createHash, createPublicKey, verify } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, createFalClient, ValidationError } from '@fal-ai/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator, type SimulatorOptions } from '../../src/fal/simulator/index.ts';

const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';
const INPUT = { image_url: 'https://example.com/a.png', prompt: 'a cat', duration: '5' };

let sim: FalSimulator | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
});

async function start(options: SimulatorOptions = {}) {
  sim = createFalSimulator({ preset: 'fast', ...options });
  await sim.start();
  const origin = sim.url;
  // The real client, redirected exactly as the server does it (protocol §10).
  const fal = createFalClient({
    credentials: 'test-key',
    requestMiddleware: async (request) => ({ ...request, url: request.url.replace(/^https:\/\/queue\.fal\.run|^https:\/\/rest\.fal\.ai/, origin) }),
  });
  return { sim, fal };
}

describe('fal simulator, through the real @fal-ai/client', () => {
  it('completes a request in polling mode with the result and cumulative logs', async () => {
    const { sim, fal } = await start({ behaviour: { logCount: 3 } });
    const updates: Array<{ status: string; logs?: unknown[] }> = [];
    const result = await fal.subscribe(ENDPOINT, { input: INPUT as never, logs: true, pollInterval: 10, onQueueUpdate: (u) => void updates.push(u as never) });
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const video = (result.data as { video: { url: string; content_type: string; file_size: number } }).video;
    expect(video.content_type).toBe('video/mp4');
    expect(video.url.startsWith(sim.url)).toBe(true);
    const last = updates.at(-1)!;
    expect(last.status).toBe('COMPLETED');
    expect(last.logs).toHaveLength(3);
    expect(sim.stats.submits).toBe(1);
    const request = sim.requests.get(result.requestId)!;
    expect(request.input).toEqual(INPUT);
    expect(request.headers['x-fal-queue-priority']).toBe('normal');
    expect(request.headers).not.toHaveProperty('authorization');
  });

  it('streams IN_QUEUE with falling positions, each log line once, then COMPLETED and closes', async () => {
    const { sim, fal } = await start({ behaviour: { queuePosition: 3, logCount: 4, queueStepMs: 20, logIntervalMs: 10 } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    const stream = await fal.queue.streamStatus(ENDPOINT, { requestId: request_id, logs: true });
    const events: Array<{ status: string; queue_position?: number; logs?: Array<{ message: string }> }> = [];
    stream.on('data', (e: (typeof events)[number]) => events.push(e));
    const last = (await stream.done()) as { status: string };
    expect(last.status).toBe('COMPLETED');
    const positions = events.filter((e) => e.status === 'IN_QUEUE').map((e) => e.queue_position);
    expect(positions).toEqual([3, 2, 1, 0].slice(-positions.length));
    expect(positions.length).toBeGreaterThanOrEqual(3);
    const lines = events.flatMap((e) => e.logs ?? []).map((l) => l.message);
    expect(lines).toEqual(sim.requests.get(request_id)!.logs.map((l) => l.message));
    expect(lines).toHaveLength(4);
    expect(sim.stats.openStreams).toBe(0);
  });

  it('reports input errors the way fal does: a 422 from the result, after COMPLETED', async () => {
    const { fal } = await start();
    const error = await fal
      .subscribe(ENDPOINT, { input: { image_url: 'https://example.com/a.png', prompt: 'x', duration: '99' } as never, pollInterval: 10 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).status).toBe(422);
    expect((error as ValidationError).getFieldErrors('duration')[0].msg).toMatch(/'3'/);
  });

  it('serves injected 503s on submit, which the client retries', async () => {
    const { sim, fal } = await start();
    sim.failNext('submit', { status: 503, body: { detail: 'busy' } }, 1);
    const submitted = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    expect(submitted.request_id).toBeTruthy();
    expect(sim.stats.submits).toBe(2);
    expect(sim.requests.size).toBe(1);
  });

  it('drops a stream early when asked to (the client then sees a non-COMPLETED last event)', async () => {
    const { fal } = await start({ behaviour: { dropStreamAfterEvents: 2, queuePosition: 3, queueStepMs: 20 } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    const stream = await fal.queue.streamStatus(ENDPOINT, { requestId: request_id, logs: true });
    const outcome = await stream.done().then(
      (last) => (last as { status: string }).status,
      (error: unknown) => (error instanceof ApiError ? `error ${error.status}` : 'error'),
    );
    expect(outcome).not.toBe('COMPLETED');
  });

  it('cancels queued requests, refuses completed ones, and does not know unknown ones', async () => {
    const { sim, fal } = await start({ behaviour: { queuePosition: 50, queueStepMs: 1000 } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    await fal.queue.cancel(ENDPOINT, { requestId: request_id });
    const status = await fal.queue.status(ENDPOINT, { requestId: request_id, logs: false });
    expect(status.status).toBe('COMPLETED');
    expect(sim.requests.get(request_id)!.cancelled).toBe(true);
    const again = await fal.queue.cancel(ENDPOINT, { requestId: request_id }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    expect((again as ApiError<unknown>).status).toBe(400);
    expect((again as ApiError<{ status: string }>).body.status).toBe('ALREADY_COMPLETED');
    const unknown = await fal.queue.cancel(ENDPOINT, { requestId: '00000000-0000-4000-8000-000000000000' }).catch((e: unknown) => e);
    expect((unknown as ApiError<{ status: string }>).status).toBe(404);
    const result = await fal.queue.result(ENDPOINT, { requestId: request_id }).catch((e: unknown) => e);
    expect((result as ApiError<unknown>).status).toBe(400);
  });

  it('stores uploads through fal storage and serves them back', async () => {
    const { fal } = await start();
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
    const url = await fal.storage.upload(new Blob([bytes], { type: 'image/png' }));
    const response = await fetch(url);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it('serves the output video with byte ranges', async () => {
    const { fal } = await start();
    const result = await fal.subscribe(ENDPOINT, { input: INPUT as never, pollInterval: 10 });
    const url = (result.data as { video: { url: string; file_size: number } }).video.url;
    const whole = new Uint8Array(await (await fetch(url)).arrayBuffer());
    expect(whole.length).toBe((result.data as { video: { file_size: number } }).video.file_size);
    const part = await fetch(url, { headers: { range: 'bytes=4-11' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4-11/${whole.length}`);
    expect(new TextDecoder().decode(await part.arrayBuffer())).toBe(new TextDecoder().decode(whole.slice(4, 12)));
    expect(new TextDecoder().decode(whole.slice(4, 8))).toBe('ftyp');
    const beyond = await fetch(url, { headers: { range: `bytes=${whole.length}-` } });
    expect(beyond.status).toBe(416);
  });

  it('delivers a signed webhook that verifies against its JWKS (protocol §7.3)', async () => {
    const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.end('ok');
      });
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    try {
      const { sim, fal } = await start();
      const port = (hook.address() as AddressInfo).port;
      const delivered = new Promise<void>((resolve) => hook.once('request', (req) => req.once('end', () => setImmediate(resolve))));
      const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never, webhookUrl: `http://127.0.0.1:${port}/hook?a=1` });
      await delivered;
      const [{ headers, body }] = received;
      expect(headers['x-fal-webhook-request-id']).toBe(request_id);
      const payload = JSON.parse(body);
      expect(payload).toMatchObject({ request_id, status: 'OK', error: null, payload: { video: { content_type: 'video/mp4' } } });
      expect(body.startsWith('{"error": null, "gateway_request_id": ')).toBe(true);

      const jwks = (await (await fetch(sim.jwksUrl)).json()) as { keys: Array<{ x: string }> };
      const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwks.keys[0].x }, format: 'jwk' });
      const message = [
        headers['x-fal-webhook-request-id'],
        headers['x-fal-webhook-user-id'],
        headers['x-fal-webhook-timestamp'],
        createHash('sha256').update(body).digest('hex'),
      ].join('\n');
      const signature = Buffer.from(String(headers['x-fal-webhook-signature']), 'hex');
      expect(verify(null, Buffer.from(message), key, signature)).toBe(true);
      expect(verify(null, Buffer.from(`${message}x`), key, signature)).toBe(false);
      expect(Math.abs(Number(headers['x-fal-webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    } finally {
      hook.close();
    }
  });

  it('closes open streams and sockets on stop()', async () => {
    const { sim, fal } = await start({ behaviour: { pauseBefore: 'COMPLETED' } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    const stream = await fal.queue.streamStatus(ENDPOINT, { requestId: request_id, logs: true });
    const ended = stream.done().then(
      () => 'done',
      () => 'error',
    );
    await new Promise<void>((resolve) => stream.on('data', () => resolve()));
    expect(sim.stats.openStreams).toBe(1);
    await sim.stop();
    expect(await ended).toMatch(/done|error/);
    expect(sim.stats.openStreams).toBe(0);
  });
});
