import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator, type SimulatedRequest, type SimulatorOptions } from '../../src/fal/simulator/index.ts';
import { until } from '../helpers/until.ts';

/** Wire-level checks with plain fetch: the details the real client does not look at, and the behaviour options. */

const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';
const APP = 'fal-ai/kling-video';
const INPUT = { image_url: 'https://example.com/a.png', prompt: 'a cat' };
const HEADERS = { 'content-type': 'application/json', authorization: 'Key test-key', 'x-fal-queue-priority': 'normal' };

type Body = Record<string, unknown> & { status?: string; logs?: Array<Record<string, string>> | null; queue_position?: number };

let sim: FalSimulator | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
});

async function start(options: SimulatorOptions = {}) {
  sim = createFalSimulator({ preset: 'fast', ...options });
  await sim.start();
  return sim;
}

async function submit(s: FalSimulator, input: unknown = INPUT, headers: Record<string, string> = {}, query = '') {
  const response = await fetch(`${s.url}/${ENDPOINT}${query}`, {
    method: 'POST',
    headers: { ...HEADERS, ...headers },
    body: JSON.stringify(input),
  });
  return { response, body: (await response.json()) as Body & { request_id: string } };
}

const get = async (s: FalSimulator, path: string) => {
  const response = await fetch(`${s.url}/${path}`, { headers: HEADERS });
  return { response, body: (await response.json()) as Body };
};

/** Resolves when the request reaches `status` (at once if it is there already). */
function reach(s: FalSimulator, id: string, status: SimulatedRequest['status']): Promise<unknown> {
  return until(`request ${id} to reach ${status}`, () => s.requests.get(id)?.status === status, { on: [[s.events, 'status-change']] });
}

/** A `log` sink whose lines tests can wait for (the simulator reports holds and waits there). */
function logSink() {
  const lines: string[] = [];
  const logged = new EventEmitter();
  return {
    lines,
    log: (line: string) => {
      lines.push(line);
      logged.emit('line');
    },
    until: (predicate: (lines: string[]) => boolean) =>
      until('a simulator log line the test expects', () => predicate(lines), { on: [[logged, 'line']] }),
  };
}

/** A raw SSE reader: data events (parsed) and comments, in arrival order, and whether the server ended the body. */
async function openStream(s: FalSimulator, id: string, logs = 1) {
  const abort = new AbortController();
  const response = await fetch(`${s.url}/${APP}/requests/${id}/status/stream?logs=${logs}`, {
    headers: { ...HEADERS, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  const items: Array<{ data?: Body; comment?: string }> = [];
  const arrived = new EventEmitter();
  let buffer = '';
  const ended = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        items.push(block.startsWith(':') ? { comment: block.slice(1).trim() } : { data: JSON.parse(block.replace(/^data: /, '')) as Body });
        arrived.emit('item');
      }
    }
    return 'ended';
  })().catch(() => 'cut');
  const streamUntil = (predicate: () => boolean) =>
    until(`a status stream item the test expects (request ${id})`, predicate, { on: [[arrived, 'item']] });
  const close = () => abort.abort();
  return { response, items, events: () => items.flatMap((i) => (i.data ? [i.data] : [])), ended, until: streamUntil, close };
}

describe('fal simulator wire protocol', () => {
  it('answers a submit like fal: 200, IN_QUEUE, a uuid and URLs pointing at itself (protocol §2)', async () => {
    const s = await start();
    const { response, body } = await submit(s);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-fal-request-id')).toBe(body.request_id);
    const base = `${s.url}/${APP}/requests/${body.request_id}`;
    expect(body).toEqual({
      status: 'IN_QUEUE',
      request_id: body.request_id,
      response_url: base,
      status_url: `${base}/status`,
      cancel_url: `${base}/cancel`,
      queue_position: 2,
    });
    expect(s.requests.get(body.request_id)?.headers.authorization).toBeUndefined();
  });

  it('rejects unknown endpoints and ids with 404 and a detail', async () => {
    const s = await start();
    const unknownApp = await fetch(`${s.url}/fal-ai/flux/dev`, { method: 'POST', headers: HEADERS, body: '{}' });
    expect(unknownApp.status).toBe(404);
    expect(await unknownApp.json()).toEqual({ detail: expect.stringContaining('fal-ai/flux/dev') });
    const unknownId = await get(s, `${APP}/requests/00000000-0000-4000-8000-000000000000/status?logs=0`);
    expect(unknownId.response.status).toBe(404);
    expect(unknownId.body).toEqual({ detail: 'Request not found' });
    // Status URLs carry owner/alias only (§1.2): another app's path does not find the request.
    const { body } = await submit(s);
    expect((await get(s, `fal-ai/other-app/requests/${body.request_id}/status?logs=0`)).response.status).toBe(404);
    expect(s.stats.submits).toBe(2);
  });

  it('polls 202 while queued or running and 200 when done, logs cumulative, metrics at the end (protocol §3)', async () => {
    const s = await start({ behaviour: { logCount: 3, pauseBefore: 'COMPLETED' } });
    const { body } = await submit(s);
    const queued = await get(s, `${APP}/requests/${body.request_id}/status?logs=1`);
    expect(queued.response.status).toBe(202);
    expect(queued.body).toMatchObject({ status: 'IN_QUEUE', queue_position: expect.any(Number) });
    expect(queued.body).not.toHaveProperty('logs');

    await new Promise<void>((resolve) => s.events.on('log', (r: SimulatedRequest) => r.logs.length === 3 && resolve()));
    const running = await get(s, `${APP}/requests/${body.request_id}/status?logs=1`);
    expect(running.response.status).toBe(202);
    expect(running.body.status).toBe('IN_PROGRESS');
    expect(running.body.logs).toHaveLength(3);
    for (const line of running.body.logs!) {
      expect(line).toEqual({
        message: expect.any(String),
        level: 'INFO',
        source: 'USER',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/),
      });
    }
    const stamps = running.body.logs!.map((l) => l.timestamp);
    expect([...stamps].sort()).toEqual(stamps);
    expect((await get(s, `${APP}/requests/${body.request_id}/status?logs=0`)).body.logs).toBeNull();
    // The result is not there yet: a 400, never a 2xx the client would take for the result (§5).
    const early = await get(s, `${APP}/requests/${body.request_id}`);
    expect(early.response.status).toBe(400);
    expect(early.body).toEqual({ detail: 'Request is still in progress' });

    s.resume(body.request_id);
    await reach(s, body.request_id, 'COMPLETED');
    const done = await get(s, `${APP}/requests/${body.request_id}/status?logs=1`);
    expect(done.response.status).toBe(200);
    expect(done.body.logs).toHaveLength(3);
    expect(done.body.metrics).toEqual({ inference_time: expect.any(Number) });
  });

  it('streams the current state first, only new lines after a reconnect, keep-alives, and closes after COMPLETED', async () => {
    const s = await start({ keepaliveMs: 20, behaviour: { queuePosition: 0, logCount: 4, logIntervalMs: 50, pauseBefore: 'COMPLETED' } });
    const { body } = await submit(s);
    const lines = () => s.requests.get(body.request_id)!.logs.map((l) => l.message);
    const first = await openStream(s, body.request_id);
    expect(first.response.headers.get('content-type')).toBe('text/event-stream');
    expect(first.response.headers.get('x-fal-request-id')).toBe(body.request_id);
    await first.until(() => first.events().some((e) => e.logs?.length));
    first.close();
    await first.ended;

    // A reconnect gets the current state without history, then each later line once (no replay, see sse.ts).
    const second = await openStream(s, body.request_id);
    const received = () =>
      second
        .events()
        .flatMap((e) => e.logs ?? [])
        .map((l) => l.message);
    await second.until(() => received().at(-1)?.endsWith('(4/4)') === true);
    await second.until(() => second.items.some((i) => i.comment === 'keepalive'));
    expect(second.events()[0]).toMatchObject({ status: 'IN_PROGRESS', logs: [] });
    expect(received().length).toBeGreaterThan(0);
    expect(received().length).toBeLessThan(4);
    expect(received()).toEqual(lines().slice(4 - received().length));

    s.resume(body.request_id);
    expect(await second.ended).toBe('ended');
    expect(second.events().at(-1)).toMatchObject({ status: 'COMPLETED', logs: [], metrics: expect.any(Object) });

    // An already-completed request: one COMPLETED event, then the server closes.
    const late = await openStream(s, body.request_id, 0);
    expect(await late.ended).toBe('ended');
    expect(late.events()).toEqual([expect.objectContaining({ status: 'COMPLETED', logs: null })]);
    expect(s.stats.openStreams).toBe(0);
    expect(s.stats.streamsOpened).toBe(3);
  });

  it('keeps the stream open after COMPLETED with streamNeverCloses, until stop()', async () => {
    const s = await start({ keepaliveMs: 10, behaviour: { streamNeverCloses: true } });
    const { body } = await submit(s);
    const stream = await openStream(s, body.request_id);
    await stream.until(() => stream.events().some((e) => e.status === 'COMPLETED'));
    const completedAt = stream.items.length;
    await stream.until(() => stream.items.slice(completedAt).some((i) => i.comment === 'keepalive'));
    expect(s.stats.openStreams).toBe(1);
    await s.stop();
    expect(await stream.ended).toMatch(/ended|cut/);
    expect(s.stats.openStreams).toBe(0);
  });

  it('holds a request with pauseBefore until resume(), and completeNow() skips the rest', async () => {
    const sink = logSink();
    const s = await start({ log: sink.log, behaviour: { pauseBefore: 'IN_PROGRESS', logCount: 50, logIntervalMs: 1000 } });
    const { body } = await submit(s);
    await sink.until((lines) => lines.some((l) => l.includes(`${body.request_id} paused before IN_PROGRESS`)));
    expect(s.requests.get(body.request_id)!).toMatchObject({ status: 'IN_QUEUE', queuePosition: 0 });
    s.resume(body.request_id);
    expect(s.requests.get(body.request_id)!.status).toBe('IN_PROGRESS');
    s.completeNow(body.request_id);
    expect(s.requests.get(body.request_id)!.status).toBe('COMPLETED');
    expect(s.requests.get(body.request_id)!.logs.length).toBeLessThan(50);
    expect((await get(s, `${APP}/requests/${body.request_id}`)).response.status).toBe(200);
  });

  it('fails a request that has not started within x-fal-request-timeout: 504, timeout type user (protocol §9)', async () => {
    const s = await start({ behaviour: { pauseBefore: 'IN_PROGRESS' } });
    const { body } = await submit(s, INPUT, { 'x-fal-request-timeout': '0.05' });
    await reach(s, body.request_id, 'COMPLETED');
    const result = await get(s, `${APP}/requests/${body.request_id}`);
    expect(result.response.status).toBe(504);
    expect(result.response.headers.get('x-fal-request-timeout-type')).toBe('user');
    expect(result.response.headers.get('x-fal-error-type')).toBe('request_timeout');
    expect(result.body).toEqual({ detail: 'Request timed out', error_type: 'request_timeout' });
  });

  it('runs at most maxConcurrent requests; waiting ones start normal priority first (protocol §9)', async () => {
    const sink = logSink();
    const waiting = (n: number) => sink.until((lines) => lines.filter((l) => l.includes('waits for a free slot')).length >= n);
    const s = await start({ maxConcurrent: 1, log: sink.log, behaviour: { queuePosition: 0, pauseBefore: 'COMPLETED' } });
    const started: string[] = [];
    let maxRunning = 0;
    s.events.on('status-change', (r: SimulatedRequest) => {
      if (r.status === 'IN_PROGRESS') started.push(r.id);
      maxRunning = Math.max(maxRunning, [...s.requests.values()].filter((x) => x.status === 'IN_PROGRESS').length);
    });
    const first = (await submit(s)).body.request_id;
    await reach(s, first, 'IN_PROGRESS');
    s.configure({ pauseBefore: undefined });
    const low = (await submit(s, INPUT, { 'x-fal-queue-priority': 'low' })).body.request_id;
    await waiting(1);
    const normal = (await submit(s)).body.request_id;
    await waiting(2);
    // Waiting requests are never rejected: still queued, at the head of the queue.
    expect(s.requests.get(low)!).toMatchObject({ status: 'IN_QUEUE', queuePosition: 0 });
    expect(s.requests.get(normal)!).toMatchObject({ status: 'IN_QUEUE', queuePosition: 0 });
    s.resume(first);
    await Promise.all([reach(s, low, 'COMPLETED'), reach(s, normal, 'COMPLETED')]);
    expect(started).toEqual([first, normal, low]);
    expect(maxRunning).toBe(1);
  });

  it('keeps a running request going after cancel unless honourCancelWhileRunning (protocol §6)', async () => {
    const s = await start({ behaviour: { queuePosition: 0, logCount: 3, logIntervalMs: 20 } });
    const kept = (await submit(s)).body.request_id;
    await reach(s, kept, 'IN_PROGRESS');
    const first = await fetch(`${s.url}/${APP}/requests/${kept}/cancel`, { method: 'PUT', headers: HEADERS });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ status: 'CANCELLATION_REQUESTED' });
    await reach(s, kept, 'COMPLETED');
    expect(s.requests.get(kept)!.cancelled).toBe(false);
    expect((await get(s, `${APP}/requests/${kept}`)).response.status).toBe(200);

    s.configure({ honourCancelWhileRunning: true });
    const stopped = (await submit(s)).body.request_id;
    await reach(s, stopped, 'IN_PROGRESS');
    expect((await fetch(`${s.url}/${APP}/requests/${stopped}/cancel`, { method: 'PUT', headers: HEADERS })).status).toBe(202);
    expect(s.requests.get(stopped)!.status).toBe('COMPLETED');
    const result = await get(s, `${APP}/requests/${stopped}`);
    expect(result.response.status).toBe(400);
    expect(result.body).toEqual({ detail: 'Request was cancelled' });
  });

  it('validates the Kling input like fal (protocol §12) and reports it from the result only', async () => {
    const s = await start({ behaviour: { queuePosition: 0, logCount: 0 } });
    const cases: Array<[unknown, Array<Array<string | number>>]> = [
      [{ prompt: 'x' }, [['body', 'image_url']]],
      [{ image_url: 'u' }, [['body']]],
      [{ image_url: 'u', prompt: 'x', multi_prompt: [{ prompt: 'y' }] }, [['body']]],
      [{ image_url: 'u', prompt: 'x', multi_prompt: null, duration: '15', generate_audio: true, shot_type: 'customize' }, []],
      [{ image_url: 'u', multi_prompt: [{ duration: '2' }] }, [['body', 'multi_prompt', 0, 'prompt']]],
      [{ image_url: 'u', prompt: 'x'.repeat(2501) }, [['body', 'prompt']]],
      [
        { image_url: 'u', prompt: 'x', duration: 5, generate_audio: 'yes', shot_type: 3 },
        [
          ['body', 'duration'],
          ['body', 'generate_audio'],
          ['body', 'shot_type'],
        ],
      ],
    ];
    for (const [input, locs] of cases) {
      const { response, body } = await submit(s, input);
      expect(response.status).toBe(200);
      await reach(s, body.request_id, 'COMPLETED');
      const result = await get(s, `${APP}/requests/${body.request_id}`);
      expect(result.response.status, JSON.stringify(input)).toBe(locs.length ? 422 : 200);
      if (locs.length) expect((result.body.detail as Array<{ loc: unknown }>).map((d) => d.loc)).toEqual(locs);
    }
    const broken = await fetch(`${s.url}/${ENDPOINT}`, { method: 'POST', headers: HEADERS, body: '{not json' });
    expect(broken.status).toBe(422);
  });

  it('serves injected faults, raw bodies included, and counts the hits', async () => {
    const s = await start();
    const { body } = await submit(s);
    s.failNext('status', { status: 502, rawBody: '<html>Bad gateway</html>' }, 2);
    s.failNext('result', { status: 429, body: { detail: 'slow down' }, headers: { 'retry-after': '1' } });
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(`${s.url}/${APP}/requests/${body.request_id}/status?logs=0`);
      expect(response.status).toBe(502);
      expect(response.headers.get('content-type')).toBe('text/html');
      expect(await response.text()).toBe('<html>Bad gateway</html>');
    }
    expect((await get(s, `${APP}/requests/${body.request_id}/status?logs=0`)).response.status).toBe(202);
    const limited = await get(s, `${APP}/requests/${body.request_id}`);
    expect(limited.response.status).toBe(429);
    expect(limited.response.headers.get('retry-after')).toBe('1');
    expect(s.stats.statusPolls).toBe(3);
    expect(s.stats.resultFetches).toBe(1);
  });

  it('emits an event with a production timestamp for every status change and log line', async () => {
    const s = await start({ behaviour: { queuePosition: 1, logCount: 2 } });
    const seen: Array<{ requestId: string; at: number; data: Body }> = [];
    s.events.on('event', (e: (typeof seen)[number]) => seen.push(e));
    const before = Date.now();
    const { body } = await submit(s);
    await reach(s, body.request_id, 'COMPLETED');
    expect(seen.map((e) => e.data.status)).toEqual(['IN_QUEUE', 'IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'COMPLETED']);
    expect(seen.every((e) => e.requestId === body.request_id && e.at >= before - 1 && e.at <= Date.now() + 1)).toBe(true);
    expect(seen.map((e) => e.at)).toEqual([...seen.map((e) => e.at)].sort((x, y) => x - y));
  });

  it('accepts multipart uploads the way the client sends them (protocol §8)', async () => {
    const s = await start();
    const init = await fetch(`${s.url}/storage/upload/initiate-multipart?storage_type=fal-cdn-v3`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ content_type: 'video/mp4', file_name: 'big.mp4' }),
    });
    const { upload_url, file_url } = (await init.json()) as { upload_url: string; file_url: string };
    const parsed = new URL(upload_url);
    const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
    const parts = [];
    for (const [i, chunk] of chunks.entries()) {
      // The client's part URL: {origin}{path}/{partNumber}{search}.
      const response = await fetch(`${parsed.origin}${parsed.pathname}/${i + 1}${parsed.search}`, { method: 'PUT', body: chunk });
      parts.push((await response.json()) as { partNumber: number; etag: string });
    }
    expect(parts.map((p) => p.partNumber)).toEqual([1, 2]);
    const complete = await fetch(`${parsed.origin}${parsed.pathname}/complete${parsed.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parts }),
    });
    expect(complete.status).toBe(200);
    const file = await fetch(file_url);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
  });

  it('does nothing at creation and can be started again after stop()', async () => {
    const s = createFalSimulator({ preset: 'fast' });
    sim = s;
    expect(s.url).toBe('');
    await s.start();
    const first = s.url;
    await s.stop();
    await s.start();
    expect(s.url).not.toBe('');
    const { body } = await submit(s);
    await reach(s, body.request_id, 'COMPLETED');
    expect(first).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
