import { createHash, createPublicKey, verify } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError, createFalClient, ValidationError } from '@fal-ai/client';
import { afterEach, describe, expect, it } from 'vitest';
import { createFalGateway } from '../../src/fal/gateway.ts';
import { createFalSimulator, type FalSimulator, type SimulatorOptions } from '../../src/fal/simulator/index.ts';
import { until } from '../helpers/until.ts';

const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';
const INPUT = { image_url: 'https://example.com/a.png', prompt: 'a cat', duration: '5' };

type StatusEvent = { status: string; queue_position?: number; logs?: Array<{ message: string }> | null };

let sim: FalSimulator | null = null;
let hook: Server | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
  hook?.close();
  hook = null;
});

async function start(options: SimulatorOptions = {}) {
  sim = createFalSimulator({ preset: 'fast', ...options });
  await sim.start();
  const origin = sim.url;
  // The real client, redirected the way the server does it (protocol §10): origins swapped, paths unchanged.
  const fal = createFalClient({
    credentials: 'test-key',
    requestMiddleware: (request) =>
      Promise.resolve({ ...request, url: request.url.replace(/^https:\/\/queue\.fal\.run|^https:\/\/rest\.fal\.ai/, origin) }),
  });
  return { sim, fal };
}

/** A webhook receiver answering each delivery with the next status from `answers` (then 200). */
async function startHook(answers: number[] = []) {
  const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answers.shift() ?? 200).end('ok');
      server.emit('delivery');
    });
  });
  hook = server;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const deliveries = (n: number) => until(`${n} webhook deliveries`, () => received.length >= n, { on: [[server, 'delivery']] });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?a=1`, received, deliveries };
}

/** Verifies a delivery exactly as protocol §7.3 describes, with the key from the simulator's JWKS. */
async function verifyDelivery(jwksUrl: string, headers: IncomingMessage['headers'], body: string): Promise<boolean> {
  const jwks = (await (await fetch(jwksUrl)).json()) as { keys: Array<{ kty: string; crv: string; x: string; kid: string }> };
  expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', kid: expect.any(String) });
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwks.keys[0].x }, format: 'jwk' });
  const message = [
    headers['x-fal-webhook-request-id'],
    headers['x-fal-webhook-user-id'],
    headers['x-fal-webhook-timestamp'],
    createHash('sha256').update(body).digest('hex'),
  ].join('\n');
  return verify(null, Buffer.from(message), key, Buffer.from(String(headers['x-fal-webhook-signature']), 'hex'));
}

describe('fal simulator, through the real @fal-ai/client', () => {
  it('completes a request in polling mode with the result and cumulative logs', async () => {
    const { sim, fal } = await start({ behaviour: { logCount: 3 } });
    const updates: StatusEvent[] = [];
    const result = await fal.subscribe(ENDPOINT, {
      input: INPUT as never,
      logs: true,
      pollInterval: 10,
      onQueueUpdate: (u) => void updates.push(u as never),
    });
    expect(result.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(result.data).toEqual({
      video: {
        url: `${sim.url}/files/output/${result.requestId}/output.mp4`,
        content_type: 'video/mp4',
        file_name: 'output.mp4',
        file_size: expect.any(Number),
      },
    });
    const last = updates.at(-1)!;
    expect(last.status).toBe('COMPLETED');
    expect(last.logs?.map((l) => l.message)).toEqual(sim.requests.get(result.requestId)!.logs.map((l) => l.message));
    expect(last.logs).toHaveLength(3);
    expect(sim.stats.submits).toBe(1);
    const request = sim.requests.get(result.requestId)!;
    expect(request.input).toEqual(INPUT);
    expect(request.headers['x-fal-queue-priority']).toBe('normal');
    expect(request.headers).not.toHaveProperty('authorization');
  });

  it('answers a status poll without logs when asked with logs=0, through the gateway', async () => {
    const { sim } = await start();
    const gateway = createFalGateway({ key: 'test-key', queueUrl: sim.url, restUrl: sim.url });
    const { requestId } = await gateway.submit(ENDPOINT, INPUT);
    await until('the request completes', async () => (await gateway.status(ENDPOINT, requestId)).status === 'COMPLETED');
    const withLogs = await gateway.status(ENDPOINT, requestId);
    expect(withLogs.logs.length).toBeGreaterThan(0);
    const without = await gateway.status(ENDPOINT, requestId, { logs: false });
    expect(without).toMatchObject({ status: 'COMPLETED', logs: [] });
  });

  it('streams IN_QUEUE with falling positions, each log line once, then COMPLETED, and ends the stream', async () => {
    const { sim, fal } = await start({ behaviour: { queuePosition: 3, logCount: 4, queueStepMs: 20, logIntervalMs: 10 } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    const stream = await fal.queue.streamStatus(ENDPOINT, { requestId: request_id, logs: true });
    const events: StatusEvent[] = [];
    stream.on('data', (e: StatusEvent) => events.push(e));
    const last = (await stream.done()) as StatusEvent;
    expect(last.status).toBe('COMPLETED');

    const statuses = events.map((e) => e.status);
    const firstRunning = statuses.indexOf('IN_PROGRESS');
    expect(statuses.slice(0, firstRunning).every((s) => s === 'IN_QUEUE')).toBe(true);
    expect(statuses.slice(firstRunning, -1).every((s) => s === 'IN_PROGRESS')).toBe(true);
    expect(statuses.filter((s) => s === 'COMPLETED')).toHaveLength(1);
    const positions = events.filter((e) => e.status === 'IN_QUEUE').map((e) => e.queue_position);
    expect(positions).toEqual([3, 2, 1, 0].slice(-positions.length));
    expect(positions.length).toBeGreaterThanOrEqual(3);
    // Each event carries only its new lines (protocol §4 item 8): concatenated, they are the lines, once each.
    const lines = events.flatMap((e) => e.logs ?? []).map((l) => l.message);
    expect(lines).toEqual(sim.requests.get(request_id)!.logs.map((l) => l.message));
    expect(lines).toHaveLength(4);
    expect(sim.stats.openStreams).toBe(0);
  });

  it('reports input errors the way fal does: a 422 ValidationError from the result, after COMPLETED', async () => {
    const { sim, fal } = await start();
    const updates: StatusEvent[] = [];
    const error = await fal
      .subscribe(ENDPOINT, {
        input: { image_url: 'https://example.com/a.png', prompt: 'x', duration: 99 } as never,
        pollInterval: 10,
        onQueueUpdate: (u) => void updates.push(u as never),
      })
      .catch((e: unknown) => e);
    expect(updates.at(-1)?.status).toBe('COMPLETED');
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation.status).toBe(422);
    expect(validation.requestId).toBe([...sim.requests.keys()][0]);
    expect(validation.fieldErrors).toHaveLength(1);
    expect(validation.fieldErrors[0]).toMatchObject({ loc: ['body', 'duration'], type: 'enum', input: 99 });
    expect(validation.getFieldErrors('duration')[0].msg).toBe(
      "Input should be '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14' or '15'",
    );
  });

  it('mirrors a model 5xx from the result endpoint, with X-Fal-Error-Type', async () => {
    const body = { detail: 'Runner disconnected', error_type: 'runner_disconnected' };
    const { fal } = await start({ behaviour: { outcome: { kind: 'error', status: 500, body } } });
    const error = await fal.subscribe(ENDPOINT, { input: INPUT as never, pollInterval: 10 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect((error as ApiError<unknown>).status).toBe(500);
    expect((error as ApiError<unknown>).body).toEqual(body);
    const raw = await fetch(`${sim!.url}/fal-ai/kling-video/requests/${(error as ApiError<unknown>).requestId}`);
    expect(raw.headers.get('x-fal-error-type')).toBe('runner_disconnected');
  });

  it('serves injected 503s on submit, which the client retries (every attempt counted)', async () => {
    const { sim, fal } = await start();
    const faults: string[] = [];
    sim.events.on('fault', (route: string) => faults.push(route));
    sim.failNext('submit', { status: 503, body: { detail: 'busy' } }, 1);
    const submitted = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    expect(submitted.request_id).toBeTruthy();
    expect(sim.stats.submits).toBe(2);
    expect(faults).toEqual(['submit']);
    expect([...sim.requests.keys()]).toEqual([submitted.request_id]);
  });

  it('drops every stream after N events when asked to, without COMPLETED', async () => {
    const { sim, fal } = await start({ behaviour: { dropStreamAfterEvents: 2, queuePosition: 3, queueStepMs: 20 } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    const stream = await fal.queue.streamStatus(ENDPOINT, { requestId: request_id, logs: true });
    const events: StatusEvent[] = [];
    stream.on('data', (e: StatusEvent) => events.push(e));
    const outcome = await stream.done().then(
      (last) => (last as StatusEvent).status,
      (error: unknown) => (error instanceof ApiError ? 'connection error' : String(error)),
    );
    expect(outcome).not.toBe('COMPLETED');
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.status === 'IN_QUEUE')).toBe(true);
    expect(sim.stats.openStreams).toBe(0);
    expect(sim.requests.get(request_id)!.streamConnections).toBe(1);
  });

  it('cancels queued requests, refuses completed ones, and does not know unknown ones', async () => {
    const { sim, fal } = await start({ behaviour: { queuePosition: 50, queueStepMs: 1000 } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    await fal.queue.cancel(ENDPOINT, { requestId: request_id });
    // A cancelled request reaches COMPLETED, so the JS poller (which stops only on COMPLETED, §3) terminates.
    const status = await fal.queue.status(ENDPOINT, { requestId: request_id, logs: false });
    expect(status.status).toBe('COMPLETED');
    expect(sim.requests.get(request_id)!.cancelled).toBe(true);
    const result = await fal.queue.result(ENDPOINT, { requestId: request_id }).catch((e: unknown) => e);
    expect((result as ApiError<unknown>).status).toBe(400);
    expect((result as ApiError<unknown>).body).toEqual({ detail: 'Request was cancelled' });

    const again = await fal.queue.cancel(ENDPOINT, { requestId: request_id }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ApiError);
    expect((again as ApiError<unknown>).status).toBe(400);
    expect((again as ApiError<unknown>).body).toEqual({ status: 'ALREADY_COMPLETED' });
    const unknown = await fal.queue.cancel(ENDPOINT, { requestId: '00000000-0000-4000-8000-000000000000' }).catch((e: unknown) => e);
    expect((unknown as ApiError<unknown>).status).toBe(404);
    expect((unknown as ApiError<unknown>).body).toEqual({ status: 'NOT_FOUND' });
    expect(sim.stats.cancels).toBe(3);
  });

  it('stores uploads through fal storage and serves them back', async () => {
    const { sim, fal } = await start();
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
    const url = await fal.storage.upload(new Blob([bytes], { type: 'image/png' }));
    expect(url.startsWith(`${sim.url}/files/uploads/`)).toBe(true);
    const response = await fetch(url);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
    expect(sim.stats.uploads).toBe(1);
  });

  it('serves the output video with byte ranges', async () => {
    const { fal } = await start();
    const result = await fal.subscribe(ENDPOINT, { input: INPUT as never, pollInterval: 10 });
    const { url, file_size } = (result.data as { video: { url: string; file_size: number } }).video;
    const full = await fetch(url);
    expect(full.headers.get('content-type')).toBe('video/mp4');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const whole = new Uint8Array(await full.arrayBuffer());
    expect(whole.length).toBe(file_size);
    expect(Number(full.headers.get('content-length'))).toBe(file_size);
    const part = await fetch(url, { headers: { range: 'bytes=4-11' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4-11/${whole.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(whole.slice(4, 12));
    expect(new TextDecoder().decode(whole.slice(4, 8))).toBe('ftyp');
    const beyond = await fetch(url, { headers: { range: `bytes=${whole.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${whole.length}`);
  });

  it('delivers a signed webhook that verifies against its JWKS (protocol §7.3)', async () => {
    const receiver = await startHook();
    const { sim, fal } = await start();
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never, webhookUrl: receiver.url });
    await receiver.deliveries(1);
    const [{ headers, body }] = receiver.received;
    expect(headers['x-fal-webhook-request-id']).toBe(request_id);
    expect(JSON.parse(body)).toEqual({
      request_id,
      gateway_request_id: request_id,
      status: 'OK',
      error: null,
      payload: {
        video: {
          url: `${sim.url}/files/output/${request_id}/output.mp4`,
          content_type: 'video/mp4',
          file_name: 'output.mp4',
          file_size: expect.any(Number),
        },
      },
    });
    // Python json.dumps style (protocol §7.2): sorted keys, ", " and ": " separators.
    expect(
      body.startsWith(`{"error": null, "gateway_request_id": "${request_id}", "payload": {"video": {"content_type": "video/mp4", `),
    ).toBe(true);
    expect(await verifyDelivery(sim.jwksUrl, headers, body)).toBe(true);
    expect(await verifyDelivery(sim.jwksUrl, headers, `${body} `)).toBe(false);
    expect(Math.abs(Number(headers['x-fal-webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    expect(sim.stats.webhookDeliveries).toBe(1);
  });

  it('retries a webhook the receiver refuses, with the same body and a valid signature each time', async () => {
    const receiver = await startHook([500, 503]);
    const { sim, fal } = await start({
      webhookRetry: { attempts: 4, baseDelayMs: 5 },
      behaviour: { outcome: { kind: 'error', status: 503, body: { detail: 'No runner', error_type: 'runner_scheduling_failure' } } },
    });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never, webhookUrl: receiver.url });
    await receiver.deliveries(3);
    expect(receiver.received.map((d) => d.body)).toEqual(Array(3).fill(receiver.received[0].body));
    expect(JSON.parse(receiver.received[0].body)).toEqual({
      request_id,
      gateway_request_id: request_id,
      status: 'ERROR',
      error: 'Invalid status code: 503',
      payload: { detail: 'No runner', error_type: 'runner_scheduling_failure' },
    });
    for (const { headers, body } of receiver.received) expect(await verifyDelivery(sim.jwksUrl, headers, body)).toBe(true);
    expect(sim.stats.webhookDeliveries).toBe(3);
  });

  it('signs forged deliveries for tests, with a chosen timestamp', async () => {
    const { sim } = await start();
    const body = '{"error": null, "request_id": "r-1", "status": "OK"}';
    const headers = sim.signWebhook(body, 'r-1', { timestamp: 1_700_000_000 });
    expect(headers['x-fal-webhook-timestamp']).toBe('1700000000');
    expect(headers['x-fal-webhook-request-id']).toBe('r-1');
    expect(await verifyDelivery(sim.jwksUrl, headers, body)).toBe(true);
    expect(await verifyDelivery(sim.jwksUrl, { ...headers, 'x-fal-webhook-request-id': 'r-2' }, body)).toBe(false);
  });

  it('stop() closes open streams and sockets, clears timers and stops listening', async () => {
    const handles = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap' || r === 'Timeout').length;
    const before = handles();
    const { sim, fal } = await start({ keepaliveMs: 50, behaviour: { pauseBefore: 'COMPLETED' } });
    const { request_id } = await fal.queue.submit(ENDPOINT, { input: INPUT as never });
    const stream = await fal.queue.streamStatus(ENDPOINT, { requestId: request_id, logs: true });
    const ended = stream.done().then(
      () => 'done',
      () => 'error',
    );
    await new Promise<void>((resolve) => stream.on('data', () => resolve()));
    expect(sim.stats.openStreams).toBe(1);
    expect(handles()).toBeGreaterThan(before);
    const url = sim.url;
    await sim.stop();
    await sim.stop(); // idempotent
    expect(await ended).toMatch(/done|error/);
    expect(sim.stats.openStreams).toBe(0);
    await expect(fetch(`${url}/.well-known/jwks.json`)).rejects.toThrow();
    // Client-side sockets see the close a tick later. (Fewer than before is fine: earlier tests' sockets may close meanwhile.)
    await new Promise((resolve) => setImmediate(resolve));
    expect(handles()).toBeLessThanOrEqual(before);
  });
});
