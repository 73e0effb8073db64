import { describe, expect, it } from 'vitest';
import { SseDataParser } from '../../src/fal/sse-parser.ts';
import { createStatusStreamTap, followStatusStream, MAX_PENDING } from '../../src/fal/status-stream.ts';
import type { FalStatus } from '../../src/fal/types.ts';

/** Feeds `chunks` to one parser, returning the data of the events each chunk completed. */
function feed(chunks: string[]): string[][] {
  const parser = new SseDataParser();
  return chunks.map((chunk) => {
    const events: string[] = [];
    parser.push(chunk, events);
    return events;
  });
}

/** Every way of cutting `text` in two, then in three, must give the same events as reading it whole. */
function everySplit(text: string): string[][] {
  const results: string[][] = [];
  for (let i = 0; i <= text.length; i++) {
    results.push(feed([text.slice(0, i), text.slice(i)]).flat());
    for (let j = i; j <= text.length; j += 3) results.push(feed([text.slice(0, i), text.slice(i, j), text.slice(j)]).flat());
  }
  return results;
}

describe('SseDataParser', () => {
  it('reads data events, one per blank line, and strips one leading space', () => {
    expect(feed(['data: {"a":1}\n\ndata:{"b":2}\n\ndata:  two spaces\n\n'])).toEqual([['{"a":1}', '{"b":2}', ' two spaces']]);
  });

  it('joins multi-line data with LF and skips comments, keep-alives, other fields and unknown lines', () => {
    const text = ': keepalive\n\nevent: status\nid: 7\nretry: 10\ndata: line one\n: in between\ndata\ndata:line three\nbogus\n\n';
    expect(feed([text])).toEqual([['line one\n\nline three']]);
  });

  it('dispatches nothing for an event without data, and drops an event the stream ends in', () => {
    expect(feed(['event: ping\nid: 1\n\n', 'data: unfinished\n'])).toEqual([[], []]);
  });

  it('accepts CRLF and lone CR line endings, also when a CRLF is cut between chunks', () => {
    expect(feed(['data: a\r\n\r\ndata: b\r\rdata: c\n\r\n'])).toEqual([['a', 'b', 'c']]);
    expect(feed(['data: a\r', '\n\r', '\ndata: b\r', '\r'])).toEqual([[], ['a'], [], ['b']]);
  });

  it('gives the same events however the bytes are cut into chunks', () => {
    const text = 'data: {"status":"IN_PROGRESS"}\n\n: ka\r\ndata: x\r\ndata: y\r\n\r\ndata:z\r\r';
    for (const events of everySplit(text)) expect(events).toEqual(['{"status":"IN_PROGRESS"}', 'x\ny', 'z']);
  });

  it('ignores a byte-order mark at the start of the stream only', () => {
    expect(feed(['\ufeffdata: a\n\n', '\ufeffdata: b\n\n'])).toEqual([['a'], []]);
  });
});

/** A body that delivers `chunks` one read at a time, then ends (or stays open). */
function bodyOf(chunks: Uint8Array[], end = true): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else if (end) controller.close();
    },
  });
}

const toStatus = (raw: unknown) => raw as FalStatus;

describe('followStatusStream', () => {
  it('decodes UTF-8 split across chunks and hands each chunk over in one batch', async () => {
    const bytes = new TextEncoder().encode(
      'data: {"status":"IN_PROGRESS","logs":[{"message":"größe 🎬"}]}\n\ndata: {"status":"COMPLETED","logs":[]}\n\n',
    );
    // Cut inside the 🎬 (4 bytes) and inside the ö (2 bytes).
    const emoji = bytes.indexOf(0xf0);
    const umlaut = bytes.indexOf(0xc3);
    const chunks = [bytes.slice(0, umlaut + 1), bytes.slice(umlaut + 1, emoji + 2), bytes.slice(emoji + 2)];
    const batches: FalStatus[][] = [];
    const last = await followStatusStream(
      bodyOf(chunks),
      toStatus,
      (batch) => {
        batches.push(batch);
        return Promise.resolve();
      },
      new AbortController().signal,
      null,
    );
    expect(batches.flat().map((s) => s.logs[0]?.message)).toEqual(['größe 🎬', undefined]);
    expect(batches.length).toBe(1);
    expect(last?.status).toBe('COMPLETED');
  });

  it('rejects with the parse error after handing over the events before it', async () => {
    const handed: FalStatus[] = [];
    const body = bodyOf([new TextEncoder().encode('data: {"status":"IN_QUEUE"}\n\ndata: [DONE]\n\n')], false);
    const following = followStatusStream(
      body,
      toStatus,
      (batch) => {
        handed.push(...batch);
        return Promise.resolve();
      },
      new AbortController().signal,
      null,
    );
    await expect(following).rejects.toThrow(SyntaxError);
    expect(handed.map((s) => s.status)).toEqual(['IN_QUEUE']);
  });

  it('resolves null on abort once the handler in flight has finished, and hands nothing more over', async () => {
    const controller = new AbortController();
    let release!: () => void;
    const calls: number[] = [];
    const encoder = new TextEncoder();
    let push!: (text: string) => void;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        push = (text) => c.enqueue(encoder.encode(text));
      },
    });
    const following = followStatusStream(
      body,
      toStatus,
      (batch) => {
        calls.push(batch.length);
        return new Promise<void>((resolve) => {
          release = resolve;
          if (calls.length === 1) {
            push('data: {"status":"IN_PROGRESS"}\n\n');
            controller.abort();
          }
        });
      },
      controller.signal,
      null,
    );
    push('data: {"status":"IN_QUEUE"}\n\n');
    let settled = false;
    void following.finally(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    await expect(following).resolves.toBeNull();
    expect(calls).toEqual([1]);
  });

  it('stops reading while the handler is MAX_PENDING statuses behind, then hands everything over in order', async () => {
    const perChunk = 300;
    const chunks = 20;
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls === chunks) return controller.close();
        const from = pulls++ * perChunk;
        const text = Array.from({ length: perChunk }, (_, i) => `data: {"status":"IN_PROGRESS","n":${from + i}}\n\n`).join('');
        controller.enqueue(new TextEncoder().encode(text));
      },
    });
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const seen: number[] = [];
    const following = followStatusStream(
      body,
      toStatus,
      async (batch) => {
        if (seen.length === 0) await blocked;
        for (const status of batch) seen.push((status as unknown as { n: number }).n);
      },
      new AbortController().signal,
      null,
    );
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    // The first chunk went to the blocked handler; reading stopped once MAX_PENDING more were waiting.
    expect(pulls).toBeLessThanOrEqual(Math.ceil(MAX_PENDING / perChunk) + 3);
    release();
    await following;
    expect(seen).toEqual(Array.from({ length: perChunk * chunks }, (_, i) => i));
  });

  it('takes only OK event-stream bodies from the client, by its abort signal', async () => {
    const answers: Response[] = [
      new Response('data: {}\n\n', { headers: { 'content-type': 'text/event-stream; charset=utf-8' } }),
      new Response('{}', { headers: { 'content-type': 'application/json' } }),
      new Response('data: {}\n\n', { status: 503, headers: { 'content-type': 'text/event-stream' } }),
    ];
    const tap = createStatusStreamTap(() => Promise.resolve(answers.shift()!));
    const signals = [new AbortController().signal, new AbortController().signal, new AbortController().signal];
    const seen = [];
    for (const signal of signals) seen.push(await tap.fetch('http://x/requests/1/status/stream', { signal }));
    expect(await seen[0].text()).toBe('');
    expect(seen[0].headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await new Response(tap.take(signals[0])).text()).toBe('data: {}\n\n');
    expect(tap.take(signals[0])).toBeUndefined();
    expect(await seen[1].text()).toBe('{}');
    expect(tap.take(signals[1])).toBeUndefined();
    expect(seen[2].status).toBe(503);
    expect(await seen[2].text()).toBe('data: {}\n\n');
  });
});
