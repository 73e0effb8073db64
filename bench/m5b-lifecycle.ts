/**
 * M5b: ingest with the generation lifecycle in the window (what M5 measured until issue #15 redefined it; the
 * steady-state log ingest is bench/m5-ingest.ts). BENCH_M5B_STREAMS concurrent fal status streams (one per generation, held until all
 * subscribers are in place, then released together), each emitting BENCH_M5B_LOGS log lines BENCH_M5B_INTERVAL_MS
 * apart (default 200 streams; BENCH_M5B_STREAMS=200,2000 for the range), while BENCH_M5B_SUBSCRIBERS subscribers (round-robin over the generations) listen. Reports the rate at
 * which log events were persisted and published (every one reached its subscribers, so: log events / time
 * from release to the last log line reaching its subscriber), sequence gaps seen by subscribers, and delivery latency.
 * reelgraph only: the peers persist nothing.
 */
import { EVENTS_QUERY } from './lib/queries.ts';
import { startSim } from './lib/sim.ts';
import { startTarget, startWorkers, type TargetKind } from './lib/targets.ts';
import { cpuSeconds, envInt, envList, LOAD_CORE, machine, round, sleep, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const STREAMS = envList('BENCH_M5B_STREAMS', [200]);
const SUBSCRIBERS = envInt('BENCH_M5B_SUBSCRIBERS', 5000);
// Enough lines for a measurable run, about 4,000 upstream events per step by default.
const LOGS_FIXED = process.env.BENCH_M5B_LOGS ? Number(process.env.BENCH_M5B_LOGS) : null;
const logsFor = (streams: number) => LOGS_FIXED ?? Math.max(2, Math.round(4000 / streams));
const INTERVAL = envInt('BENCH_M5B_INTERVAL_MS', 10);
const kinds = (process.env.BENCH_M5B_TARGETS ?? 'reelgraph,reelgraph-pg').split(',') as TargetKind[];

const bench = await startSim({
  queuePosition: 0,
  queueStepMs: 5,
  logIntervalMs: INTERVAL,
  completeDelayMs: INTERVAL,
  pauseBefore: 'IN_PROGRESS',
});
const workers = await startWorkers(1, LOAD_CORE);
const rows: Array<Record<string, unknown>> = [];
try {
  for (const kind of kinds) {
    for (const streams of STREAMS) {
      const LOGS = logsFor(streams);
      bench.sim.configure({ logCount: LOGS });
      const target = await startTarget(kind, bench.sim.url, { DATABASE_POOL_SIZE: '20' });
      try {
        bench.take();
        const ids = await target.submit(streams);
        const upstream = bench.take();
        const subscriberIds = Array.from({ length: Math.max(SUBSCRIBERS, streams) }, (_, i) => ids[i % ids.length]);
        await workers.call(
          0,
          {
            cmd: 'open',
            url: target.wsUrl,
            transport: 'ws',
            query: EVENTS_QUERY,
            authorization: target.authorization,
            ids: subscriberIds,
            readyTimeoutMs: 600_000,
          },
          900_000,
        );
        await sleep(1000);
        await workers.call(0, { cmd: 'reset' });
        const cpu0 = cpuSeconds(target.pid);
        const t0 = performance.timeOrigin + performance.now();
        bench.resume(upstream);
        // Done when every log line reached every subscriber (the rate's denominator), then the completions.
        // (status events included: IN_PROGRESS and the terminal one per subscriber)
        await workers.call(
          0,
          { cmd: 'waitDeliveries', expected: subscriberIds.length * (LOGS + 2), timeoutMs: 300_000, quietMs: 15_000 },
          310_000,
        );
        await workers.call(0, { cmd: 'waitComplete', expected: subscriberIds.length, timeoutMs: 120_000 }, 130_000);
        const s = await workers.call<{
          completes: number;
          gaps: number;
          lastLogAt: number;
          unfinishedLastSequences: number[];
          latencies: number[];
        }>(0, { cmd: 'stats', raw: true });
        // From release to the last log line reaching its subscriber.
        const seconds = (s.lastLogAt - t0) / 1000;
        const upstreamEvents = streams * LOGS;
        const row = {
          target: kind,
          streams,
          logsPerStream: LOGS,
          subscribers: subscriberIds.length,
          upstreamLogEvents: upstreamEvents,
          offeredEventsPerSecond: round((streams * 1000) / INTERVAL, 0),
          ingestedEventsPerSecond: round(upstreamEvents / seconds, 0),
          seconds: round(seconds, 2),
          deliveries: s.latencies.length,
          lost: subscriberIds.length * LOGS - s.latencies.length,
          gaps: s.gaps,
          completes: s.completes,
          unfinishedLastSequences: s.unfinishedLastSequences,
          deliveryLatencyMs: summary(s.latencies),
          serverCpuSeconds: round(cpuSeconds(target.pid) - cpu0, 1),
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      } catch (error) {
        rows.push({ target: kind, streams, failed: String(error).slice(0, 500) });
        console.log(JSON.stringify(rows.at(-1)));
      } finally {
        await workers.call(0, { cmd: 'close', abrupt: true }).catch(() => {});
        await workers.call(0, { cmd: 'reset' }).catch(() => {});
        await target.stop();
      }
    }
  }
} finally {
  await workers.stop();
  await bench.stop();
}
await writeResult('m5b', { machine: machine(), date: new Date().toISOString(), intervalMs: INTERVAL, rows });
