/**
 * The load generator's subscribers, run as a child process pinned to the load core and driven over IPC.
 * One WebSocket (graphql-transport-ws) or one SSE response per subscriber, so N subscribers are N sockets,
 * as N dashboards would be. Latency is computed here from the log line's own timestamp, which the fal
 * simulator stamps at the instant it emits the line (same wall clock, same machine).
 */
import http from 'node:http';
import WebSocket from 'ws';
import { serveIpc } from './util.ts';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

// This load process's own pauses (GCs of 20 ms or more, its longest loop delay), reported with each heartbeat
// round: a round trip measured here includes them, so a tail can be told apart from the server's.
let ownGcs: number[] = [];
const ownLoopDelay = monitorEventLoopDelay({ resolution: 10 });
ownLoopDelay.enable();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.duration >= 20) ownGcs.push(Math.round(entry.duration));
}).observe({ entryTypes: ['gc'] });

interface Sub {
  ws?: WebSocket;
  req?: http.ClientRequest;
  last: number;
  ready: boolean;
  done: boolean;
  pingAt: number;
  /** 1 / the number of subscribers of this sub's generation: summed over deliveries, it counts upstream events. */
  weight: number;
  /** Has had an event after its first (for M5: its generation went IN_PROGRESS). */
  moved: boolean;
}

let subs: Sub[] = [];
let latencies: number[] = [];
let deliveries = 0;
let completes = 0;
let gaps = 0;
let errors: string[] = [];
let readyCount = 0;
let closedEarly = 0;
let rtts: number[] = [];
let lastLogAt = 0;
/**
 * A measurement window (absolute ms, see `window`): log deliveries received inside it, weighted so that they
 * count upstream events (each reaches every subscriber of its generation), and their latencies.
 */
let windowFrom = Infinity;
let windowTo = -Infinity;
let windowEvents = 0;
let windowDeliveries = 0;
let windowLatencies: number[] = [];
/** Upstream log events that reached their subscribers since the last reset (weighted as in the window). */
let events = 0;
let moved = 0;
const now = () => performance.timeOrigin + performance.now();

function onNext(
  sub: Sub,
  payload: { data?: { videoGenerationEvents?: { sequence: number; log?: { timestamp: string } } }; errors?: unknown },
) {
  const event = payload.data?.videoGenerationEvents;
  if (!event) {
    if (errors.length < 5) errors.push(JSON.stringify(payload).slice(0, 300));
    return;
  }
  if (!sub.ready) {
    sub.ready = true;
    readyCount += 1;
  } else {
    deliveries += 1;
    if (!sub.moved) {
      sub.moved = true;
      moved += 1;
    }
    if (event.sequence !== sub.last + 1) gaps += 1;
    if (event.log) {
      lastLogAt = now();
      const latency = lastLogAt - Date.parse(event.log.timestamp);
      latencies.push(latency);
      events += sub.weight;
      if (lastLogAt >= windowFrom && lastLogAt <= windowTo) {
        windowEvents += sub.weight;
        windowDeliveries += 1;
        windowLatencies.push(latency);
      }
    }
  }
  sub.last = event.sequence;
}

/** connection_init with the target's API key in connectionParams (reelgraph), or empty (the peers). */
const initFrame = (authorization: string | null | undefined) =>
  JSON.stringify({ type: 'connection_init', payload: authorization ? { authorization } : {} });

function openWs(url: string, query: string, variables: Record<string, unknown>, authorization?: string | null, weight = 1): Promise<void> {
  return new Promise((resolve) => {
    const sub: Sub = { last: 0, ready: false, done: false, pingAt: 0, weight, moved: false };
    const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    sub.ws = ws;
    subs.push(sub);
    ws.on('open', () => ws.send(initFrame(authorization)));
    ws.on('message', (data) => {
      // Text frames arrive as a Buffer (ws' default binaryType).
      const message = JSON.parse((data as Buffer).toString('utf8')) as { type: string; payload?: Parameters<typeof onNext>[1] };
      switch (message.type) {
        case 'next':
          onNext(sub, message.payload ?? {}); // graphql-ws: a next message always carries a payload
          break;
        case 'connection_ack':
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
          resolve();
          break;
        case 'complete':
          sub.done = true;
          completes += 1;
          break;
        case 'ping':
          ws.send('{"type":"pong"}');
          break;
        case 'pong':
          if (sub.pingAt) rtts.push(now() - sub.pingAt);
          sub.pingAt = 0;
          break;
        case 'error':
          if (errors.length < 5) errors.push(JSON.stringify(message.payload).slice(0, 300));
          break;
      }
    });
    ws.on('error', (error) => {
      if (errors.length < 5) errors.push(error.message);
      resolve();
    });
    ws.on('close', () => {
      if (!sub.done) closedEarly += 1;
      resolve();
    });
  });
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
function openSse(url: string, query: string, variables: Record<string, unknown>, authorization?: string | null, weight = 1): Promise<void> {
  return new Promise((resolve) => {
    const sub: Sub = { last: 0, ready: false, done: false, pingAt: 0, weight, moved: false };
    subs.push(sub);
    const target = new URL(url);
    target.searchParams.set('query', query);
    target.searchParams.set('variables', JSON.stringify(variables));
    const req = http.get(
      target,
      { agent, headers: { accept: 'text/event-stream', ...(authorization ? { authorization } : {}) } },
      (res) => {
        resolve();
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split('\n').find((line) => line.startsWith('data: '));
            if (block.startsWith('event: complete')) {
              sub.done = true;
              completes += 1;
            } else if (data && block.startsWith('event: next')) onNext(sub, JSON.parse(data.slice(6)) as Parameters<typeof onNext>[1]);
          }
        });
        res.on('close', () => {
          if (!sub.done) closedEarly += 1;
        });
      },
    );
    sub.req = req;
    req.on('error', (error) => {
      if (errors.length < 5) errors.push(error.message);
      resolve();
    });
  });
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function until(predicate: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return predicate();
}

serveIpc({
  /** Opens one subscriber per entry of `ids` (repeat an id for several subscribers), waits for each one's first event. */
  async open(m: {
    url: string;
    transport: 'ws' | 'sse';
    query: string;
    ids: string[];
    authorization?: string | null;
    concurrency?: number;
    readyTimeoutMs?: number;
  }) {
    const started = Date.now();
    const before = subs.length;
    const readyBefore = readyCount;
    const perId = new Map<string, number>();
    for (const id of m.ids) perId.set(id, (perId.get(id) ?? 0) + 1);
    await pool(m.ids, m.concurrency ?? 100, (id) =>
      m.transport === 'sse'
        ? openSse(m.url, m.query, { id }, m.authorization, 1 / perId.get(id)!)
        : openWs(m.url, m.query, { id }, m.authorization, 1 / perId.get(id)!),
    );
    await until(() => readyCount - readyBefore >= m.ids.length, m.readyTimeoutMs ?? 60_000);
    return { opened: subs.length - before, ready: readyCount - readyBefore, ms: Date.now() - started, errors };
  },
  reset() {
    latencies = [];
    deliveries = 0;
    completes = 0;
    gaps = 0;
    errors = [];
    rtts = [];
    closedEarly = 0;
    lastLogAt = 0;
    events = 0;
    // What arrives after a reset is what `waitMoved` waits for (history and queue moves came before it).
    moved = 0;
    for (const sub of subs) sub.moved = false;
    windowFrom = Infinity;
    windowTo = -Infinity;
    windowEvents = 0;
    windowDeliveries = 0;
    windowLatencies = [];
    return true;
  },
  /** Sets the measurement window (absolute ms, performance.timeOrigin + performance.now() of any process). */
  window(m: { from: number; to: number }) {
    windowFrom = m.from;
    windowTo = m.to;
    windowEvents = 0;
    windowDeliveries = 0;
    windowLatencies = [];
    return true;
  },
  /** Waits until every open subscriber has had an event after its first (or the timeout); returns how many had. */
  async waitMoved(m: { timeoutMs: number }) {
    await until(() => moved >= subs.length, m.timeoutMs);
    return moved;
  },
  /** What arrived inside the window: upstream log events (weighted), deliveries, and their latencies. */
  windowStats() {
    return { events: Math.round(windowEvents), deliveries: windowDeliveries, latencies: windowLatencies };
  },
  async waitComplete(m: { expected: number; timeoutMs: number }) {
    await until(() => completes >= m.expected, m.timeoutMs);
    return completes;
  },
  /** Waits until `deliveries` stops growing for quietMs (or reaches `expected`). */
  async waitDeliveries(m: { expected: number; timeoutMs: number; quietMs?: number }) {
    const deadline = Date.now() + m.timeoutMs;
    let last = -1;
    let stableSince = Date.now();
    while (deliveries < m.expected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (deliveries !== last) {
        last = deliveries;
        stableSince = Date.now();
      } else if (Date.now() - stableSince > (m.quietMs ?? 5000)) break;
    }
    return deliveries;
  },
  stats(m: { raw?: boolean }) {
    // Subscribers still open: how far each got (diagnoses a subscription that never completes).
    const unfinished = subs
      .filter((sub) => sub.ready && !sub.done)
      .slice(0, 20)
      .map((sub) => sub.last);
    return {
      unfinishedLastSequences: unfinished,
      subscribers: subs.length,
      ready: readyCount,
      deliveries,
      completes,
      gaps,
      closedEarly,
      errors,
      lastLogAt,
      events: Math.round(events),
      latencies: m.raw ? latencies : undefined,
    };
  },
  /** Every open WebSocket sends a graphql-transport-ws ping, spread over spreadMs; returns the pong round trips. */
  async heartbeat(m: { spreadMs: number; timeoutMs: number }) {
    rtts = [];
    ownGcs = [];
    ownLoopDelay.reset();
    const open = subs.filter((s) => s.ws && s.ws.readyState === WebSocket.OPEN);
    const step = m.spreadMs / Math.max(1, open.length);
    const started = Date.now();
    for (let i = 0; i < open.length; i += 1) {
      open[i].pingAt = now();
      open[i].ws!.send('{"type":"ping"}');
      const due = started + (i + 1) * step;
      if (due - Date.now() > 5) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
    await until(() => rtts.length >= open.length, m.timeoutMs);
    return { sent: open.length, answered: rtts.length, rtts, gcs: ownGcs, maxLoopDelayMs: Math.round(ownLoopDelay.max / 1e6) };
  },
  /** Closes every subscriber: `abrupt` destroys the TCP socket without a close frame, otherwise complete + close. */
  async close(m: { abrupt?: boolean }) {
    for (const sub of subs) {
      if (sub.ws) {
        if (m.abrupt) sub.ws.terminate();
        else {
          if (sub.ws.readyState === WebSocket.OPEN && !sub.done) sub.ws.send('{"id":"1","type":"complete"}');
          sub.ws.close();
        }
      }
      sub.req?.destroy();
    }
    subs = [];
    readyCount = 0;
    moved = 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
    return true;
  },
  /**
   * Churn: `connections` sockets, each doing subscribe → first event → complete, `cycles` times in total.
   */
  async churn(m: {
    url: string;
    query: string;
    id: string;
    authorization?: string | null;
    connections: number;
    cycles: number;
    seconds?: number;
  }) {
    let done = 0;
    let failures = 0;
    const started = Date.now();
    const deadline = started + (m.seconds ?? 3600) * 1000;
    await Promise.all(
      Array.from(
        { length: m.connections },
        () =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(m.url, 'graphql-transport-ws', { perMessageDeflate: false });
            let n = 0;
            const subscribe = () =>
              ws.send(JSON.stringify({ id: String(++n), type: 'subscribe', payload: { query: m.query, variables: { id: m.id } } }));
            ws.on('open', () => ws.send(initFrame(m.authorization)));
            ws.on('message', (data) => {
              const message = JSON.parse((data as Buffer).toString('utf8')) as { type: string; id?: string };
              if (message.type === 'connection_ack') return subscribe();
              if (message.type === 'error') failures += 1;
              if (message.type === 'next' && message.id === String(n)) {
                ws.send(JSON.stringify({ id: String(n), type: 'complete' }));
                done += 1;
                if (done >= m.cycles || Date.now() > deadline) {
                  ws.close();
                  return;
                }
                subscribe();
              }
            });
            ws.on('close', () => resolve());
            ws.on('error', () => resolve());
          }),
      ),
    );
    return { cycles: done, failures, ms: Date.now() - started };
  },
});
process.send!({ ready: true });
