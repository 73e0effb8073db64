/**
 * M3: memory per idle subscription (heap and RSS after full GCs, measured inside the server by the preloaded
 * probe) with BENCH_M3_SUBSCRIBERS subscribers on one held generation, for graphql-ws and SSE, against the peers;
 * then the most subscribers one reelgraph process holds (BENCH_M3_MAX, spread over two load processes) with a
 * graphql-ws ping/pong keep-alive sent by every subscriber, and that heartbeat's round-trip p99.
 */
import { EVENTS_QUERY } from './lib/queries.ts';
import { startSim } from './lib/sim.ts';
import { startTarget, startWorkers, type TargetKind } from './lib/targets.ts';
import { envInt, LOAD_CORE, machine, round, sleep, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const N = envInt('BENCH_M3_SUBSCRIBERS', 10_000);
const MAX = envInt('BENCH_M3_MAX', 19_000);
const cases = (process.env.BENCH_M3_CASES ?? 'reelgraph:ws,reelgraph:sse,raw-ws:ws,mercurius:ws,apollo:ws')
  .split(',')
  .map((c) => c.split(':') as [TargetKind, 'ws' | 'sse']);

const bench = await startSim({ queuePosition: 0, queueStepMs: 5, pauseBefore: 'IN_PROGRESS' });
const rows: Array<Record<string, unknown>> = [];
let max: Record<string, unknown> | null = null;
const MB = 1024 * 1024;

async function measureIdle(kind: TargetKind, transport: 'ws' | 'sse', count: number, workerCount: number) {
  const target = await startTarget(kind, bench.sim.url);
  const workers = await startWorkers(workerCount, LOAD_CORE);
  try {
    const [id] = await target.submit(1);
    // Warm-up: every code path has run once before the baseline is taken.
    await workers.call(0, {
      cmd: 'open',
      url: transport === 'sse' ? target.url : target.wsUrl,
      transport,
      query: EVENTS_QUERY,
      authorization: target.authorization,
      ids: Array(50).fill(id),
    });
    await workers.call(0, { cmd: 'close', abrupt: false });
    await workers.call(0, { cmd: 'reset' });
    await sleep(1000);
    const base = await target.memory();
    const t0 = Date.now();
    const per = Math.ceil(count / workerCount);
    const opened = await workers.all<{ opened: number; ready: number; ms: number; errors: string[] }>(
      {
        cmd: 'open',
        url: transport === 'sse' ? target.url : target.wsUrl,
        transport,
        query: EVENTS_QUERY,
        authorization: target.authorization,
        ids: Array(per).fill(id),
        concurrency: 100,
        readyTimeoutMs: 600_000,
      },
      900_000,
    );
    const ready = opened.reduce((a, o) => a + o.ready, 0);
    await sleep(2000);
    const after = await target.memory();
    return { target, workers, base, after, ready, connectMs: Date.now() - t0, errors: opened.flatMap((o) => o.errors).slice(0, 3) };
  } catch (error) {
    await workers.stop();
    await target.stop();
    throw error;
  }
}

try {
  for (const [kind, transport] of cases) {
    try {
      const m = await measureIdle(kind, transport, N, 1);
      const row = {
        target: kind,
        transport,
        subscribers: m.ready,
        heapBytesPerSubscription: Math.round((m.after.heapUsed - m.base.heapUsed) / Math.max(1, m.ready)),
        rssBytesPerSubscription: Math.round((m.after.rss - m.base.rss) / Math.max(1, m.ready)),
        baseHeapMb: round(m.base.heapUsed / MB),
        heapMb: round(m.after.heapUsed / MB),
        baseRssMb: round(m.base.rss / MB),
        rssMb: round(m.after.rss / MB),
        connectSeconds: round(m.connectMs / 1000),
        errors: m.errors,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
      await m.workers.stop();
      await m.target.stop();
    } catch (error) {
      rows.push({ target: kind, transport, failed: String(error).slice(0, 500) });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }

  if (MAX > 0) {
    const kind = (process.env.BENCH_M3_MAX_TARGET ?? 'reelgraph') as TargetKind;
    try {
      const m = await measureIdle(kind, 'ws', MAX, 2);
      // Keep-alives: every subscriber pings, spread over 5 s, three rounds; the round trip is the heartbeat.
      const rtts: number[] = [];
      let sent = 0;
      // The server's long GC pauses and its longest loop delay during the heartbeats: what a tail there comes from.
      await m.target.pauses();
      for (let round_ = 0; round_ < 3; round_ += 1) {
        const results = await m.workers.all<{ sent: number; answered: number; rtts: number[] }>(
          { cmd: 'heartbeat', spreadMs: 5000, timeoutMs: 15_000 },
          60_000,
        );
        for (const r of results) {
          rtts.push(...r.rtts);
          sent += r.sent;
        }
      }
      const serverPauses = await m.target.pauses();
      const stats = await m.workers.all<{ closedEarly: number }>({ cmd: 'stats' });
      max = {
        target: kind,
        subscribers: m.ready,
        rssMb: round(m.after.rss / MB),
        heapMb: round(m.after.heapUsed / MB),
        heartbeatsSent: sent,
        heartbeatsAnswered: rtts.length,
        heartbeatRttMs: summary(rtts),
        serverPauses,
        droppedConnections: stats.reduce((a, s) => a + s.closedEarly, 0),
        connectSeconds: round(m.connectMs / 1000),
        errors: m.errors,
      };
      console.log(JSON.stringify(max));
      await m.workers.stop();
      await m.target.stop();
    } catch (error) {
      max = { target: kind, failed: String(error).slice(0, 800) };
      console.log(JSON.stringify(max));
    }
  }
} finally {
  await bench.stop();
}
await writeResult('m3', { machine: machine(), date: new Date().toISOString(), subscribers: N, rows, max });
