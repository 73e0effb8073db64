import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import WebSocket from 'ws';

/**
 * Subscribers that stop reading, on real sockets: the kernel's buffers fill and the server sees a client
 * that never drains. Each resolves once the server accepted the subscription, already paused.
 */
export interface StalledClient {
  /** Starts reading again; `ended` then settles once the server's close reaches us. */
  resume(): void;
}

export interface StalledSse extends StalledClient {
  /** Resolves when the connection is closed (after resume(), once the buffered data is read). */
  ended: Promise<void>;
  /** `next` events read so far. */
  events(): number;
}

/** An SSE subscription over a raw TCP socket (HTTP/1.1, POST), paused right after the response headers. */
export async function stalledSse(url: string, query: string, headers: Record<string, string> = {}): Promise<StalledSse> {
  const target = new URL(url);
  const socket: Socket = connect(Number(target.port), target.hostname);
  await once(socket, 'connect');
  const body = JSON.stringify({ query });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(
    `POST ${target.pathname} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  let text = '';
  let events = 0;
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {}); // a reset is an end too
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      socket.off('data', onData);
      if (!/^HTTP\/1\.1 200/.test(text)) return reject(new Error(`SSE request refused: ${text.slice(0, head)}`));
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed before the response: ${text}`)));
  });
  socket.pause();
  // Still paused (a paused stream stays paused when a listener is added) until resume().
  socket.on('data', (chunk: Buffer) => {
    events += chunk.toString('latin1').split('event: next').length - 1;
  });
  return { ended, events: () => events, resume: () => socket.resume() };
}

export interface StalledWs extends StalledClient {
  /** The close code and reason the server sent (after resume()). */
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * A graphql-ws subscription over a raw `ws` client whose socket is paused once `ready()` resolves (the
 * caller makes the first event happen; its arrival shows the subscription is live).
 */
export async function stalledWs(url: string, query: string, authorization?: string): Promise<StalledWs & { firstEvent: Promise<void> }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {});
  await once(ws, 'open');
  ws.send(JSON.stringify({ type: 'connection_init', payload: authorization ? { authorization } : {} }));
  await new Promise<void>((resolve, reject) => {
    ws.on('message', function onAck(data) {
      // Text frames arrive as a Buffer (ws' default binaryType).
      const text = (data as Buffer).toString('utf8');
      const message = JSON.parse(text) as { type: string };
      if (message.type !== 'connection_ack') return reject(new Error(`expected connection_ack, got ${text}`));
      ws.off('message', onAck);
      resolve();
    });
  });
  const firstEvent = new Promise<void>((resolve) => {
    ws.on('message', function onNext(data) {
      if ((JSON.parse((data as Buffer).toString('utf8')) as { type: string }).type !== 'next') return;
      ws.off('message', onNext);
      // Stop reading from here on: everything the server sends now piles up in its buffers and the kernel's.
      // ws.pause() pauses the underlying socket and keeps it paused (ws itself resumes a socket it paused).
      ws.pause();
      resolve();
    });
  });
  ws.send(JSON.stringify({ id: 'slow', type: 'subscribe', payload: { query } }));
  return { closed, firstEvent, resume: () => ws.resume() };
}

/** Heap plus Buffer memory of this process after full garbage collections, in bytes. */
export async function settledMemory(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i += 1) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
