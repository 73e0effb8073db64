/**
 * M1 delivery latency: from the fal simulator emitting a log line to each subscriber receiving it, for one
 * generation with 1k / 5k / 10k subscribers and for 1,000 generations x 10 subscribers, against each peer in
 * the same run. Every subscriber is its own WebSocket (graphql-transport-ws).
 *
 *   BENCH_M1_SCENARIOS="1x1000,1x5000,1x10000,1000x10"  generations x subscribers-per-generation
 *   BENCH_M1_LOGS=10  BENCH_M1_INTERVAL_MS=1000          log lines per generation and their spacing
 *   BENCH_TARGETS=reelgraph,raw-ws,mercurius,apollo
 *   BENCH_PROFILE_DIR=/tmp/prof   a CPU profile of each server while connecting and one while delivering
 * Just the 1 x 5,000 delivery and connect against raw ws: BENCH_M1_SCENARIOS=1x5000 BENCH_TARGETS=reelgraph,raw-ws.
 */
import { errorMessage } from '../src/lib/errors.ts';
import { startSim } from './lib/sim.ts';
import { PEERS, startTarget, startWorkers, type TargetKind } from './lib/targets.ts';
import { cpuSeconds, envInt, LOAD_CORE, machine, round, sleep, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';
import { EVENTS_QUERY } from './lib/queries.ts';

const scenarios = (process.env.BENCH_M1_SCENARIOS ?? '1x1000,1x5000,1x10000,1000x10')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number]);
const targets = (process.env.BENCH_TARGETS ?? ['reelgraph', ...PEERS].join(',')).split(',') as TargetKind[];
const LOGS = envInt('BENCH_M1_LOGS', 10);
const INTERVAL = envInt('BENCH_M1_INTERVAL_MS', 1000);

const bench = await startSim({
  queuePosition: 0,
  queueStepMs: 5,
  logCount: LOGS,
  logIntervalMs: INTERVAL,
  completeDelayMs: INTERVAL,
  pauseBefore: 'IN_PROGRESS',
});
const workers = await startWorkers(1, LOAD_CORE);
const rows: Array<Record<string, unknown>> = [];
try {
  for (const [gens, per] of scenarios) {
    for (const kind of targets) {
      const target = await startTarget(kind, bench.sim.url);
      try {
        bench.take();
        const ids = await target.submit(gens);
        const upstream = bench.take();
        const subscriberIds = ids.flatMap((id) => Array.from({ length: per }, () => id));
        // Connecting is profiled on its own (BENCH_PROFILE_DIR): subscribe, authorise and replay, not delivery.
        const stopConnectProfile = await target.profile(`m1-${gens}x${per}-connect`);
        const connectCpu0 = cpuSeconds(target.pid);
        const opened = await workers.call<{ opened: number; ready: number; ms: number; errors: string[] }>(0, {
          cmd: 'open',
          url: target.wsUrl,
          transport: 'ws',
          query: EVENTS_QUERY,
          authorization: target.authorization,
          ids: subscriberIds,
        });
        const connectCpu = cpuSeconds(target.pid) - connectCpu0;
        await stopConnectProfile();
        await sleep(1000);
        await workers.call(0, { cmd: 'reset' });
        const cpu0 = cpuSeconds(target.pid);
        const stopProfile = await target.profile(`m1-${gens}x${per}`);
        const t0 = performance.now();
        let peakRss = 0;
        const sampler = setInterval(() => (peakRss = Math.max(peakRss, target.rssMb())), 250);
        bench.resume(upstream);
        const total = subscriberIds.length;
        // Every event (IN_PROGRESS, the log lines, COMPLETED) at every subscriber, or 15 s without progress;
        // then the completions.
        await workers.call(
          0,
          { cmd: 'waitDeliveries', expected: total * (LOGS + 2), timeoutMs: LOGS * INTERVAL + 240_000, quietMs: 15_000 },
          LOGS * INTERVAL + 250_000,
        );
        await workers.call(0, { cmd: 'waitComplete', expected: total, timeoutMs: 10_000 }, 20_000);
        const seconds = (performance.now() - t0) / 1000;
        clearInterval(sampler);
        const cpu = cpuSeconds(target.pid) - cpu0;
        await stopProfile();
        const s = await workers.call<{
          deliveries: number;
          completes: number;
          gaps: number;
          closedEarly: number;
          errors: string[];
          latencies: number[];
        }>(0, { cmd: 'stats', raw: true });
        const expectedLogs = total * LOGS;
        const row = {
          scenario: `${gens}x${per}`,
          target: kind,
          subscribers: total,
          ready: opened.ready,
          connectMs: opened.ms,
          connectCpuMsPerSubscriber: round((connectCpu * 1000) / Math.max(1, opened.ready), 2),
          logDeliveries: s.latencies.length,
          expectedLogDeliveries: expectedLogs,
          lost: expectedLogs - s.latencies.length,
          gaps: s.gaps,
          completes: s.completes,
          latencyMs: summary(s.latencies),
          seconds: round(seconds, 2),
          serverCpuSeconds: round(cpu, 2),
          serverCpuMsPer1kDeliveries: round((cpu * 1000 * 1000) / Math.max(1, s.deliveries), 1),
          peakRssMb: Math.round(peakRss),
          errors: [...opened.errors, ...s.errors].slice(0, 3),
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      } catch (error) {
        const row = {
          scenario: `${gens}x${per}`,
          target: kind,
          failed: errorMessage(error).slice(0, 500),
        };
        rows.push(row);
        console.log(JSON.stringify(row));
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
await writeResult('m1', { machine: machine(), date: new Date().toISOString(), logsPerGeneration: LOGS, intervalMs: INTERVAL, rows });
