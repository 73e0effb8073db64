/**
 * M7: churn. Subscribe/complete cycles per second over BENCH_M7_CONNECTIONS sockets (each cycle: subscribe, wait
 * for the first event, complete) for BENCH_M7_SECONDS or BENCH_M7_CYCLES, then BENCH_M7_STORMS abrupt-disconnect
 * storms of BENCH_M7_STORM subscribers (TCP sockets destroyed without a close frame). Heap after full GCs is
 * taken before, after the churn and after the storms: anything a finished subscription leaves behind
 * (iterators, bus listeners, timers, per-generation hubs) shows up as growth. A warm-up churn of
 * BENCH_M7_WARMUP_CYCLES cycles (at most BENCH_M7_WARMUP_S seconds) comes first.
 */
import { EVENTS_QUERY } from './lib/queries.ts';
import { startSim } from './lib/sim.ts';
import { startTarget, startWorkers, type TargetKind } from './lib/targets.ts';
import { envInt, LOAD_CORE, machine, round, sleep } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const SECONDS = envInt('BENCH_M7_SECONDS', 20);
const CYCLES = envInt('BENCH_M7_CYCLES', 1_000_000);
const CONNECTIONS = envInt('BENCH_M7_CONNECTIONS', 50);
const STORM = envInt('BENCH_M7_STORM', 2000);
const STORMS = envInt('BENCH_M7_STORMS', 3);
const WARMUP_CYCLES = envInt('BENCH_M7_WARMUP_CYCLES', 500);
const WARMUP_SECONDS = envInt('BENCH_M7_WARMUP_S', 10);
const targets = (process.env.BENCH_M7_TARGETS ?? 'reelgraph,mercurius,apollo').split(',') as TargetKind[];

const bench = await startSim({ queuePosition: 0, queueStepMs: 5, pauseBefore: 'IN_PROGRESS' });
const workers = await startWorkers(1, LOAD_CORE);
const rows: Array<Record<string, unknown>> = [];
const MB = 1024 * 1024;
try {
  for (const kind of targets) {
    const target = await startTarget(kind, bench.sim.url);
    try {
      const [id] = await target.submit(1);
      const churn = (cycles: number, seconds: number) =>
        workers.call<{ cycles: number; failures: number; ms: number }>(
          0,
          {
            cmd: 'churn',
            url: target.wsUrl,
            query: EVENTS_QUERY,
            authorization: target.authorization,
            id,
            connections: CONNECTIONS,
            cycles,
            seconds,
          },
          (seconds + 120) * 1000,
        );
      await churn(WARMUP_CYCLES, WARMUP_SECONDS);
      const base = await target.memory();
      const stopProfile = await target.profile('m7');
      const run = await churn(CYCLES, SECONDS);
      await stopProfile();
      await sleep(1000);
      const afterChurn = await target.memory();
      for (let i = 0; i < STORMS; i += 1) {
        await workers.call(
          0,
          {
            cmd: 'open',
            url: target.wsUrl,
            transport: 'ws',
            query: EVENTS_QUERY,
            authorization: target.authorization,
            ids: Array(STORM).fill(id),
            readyTimeoutMs: 300_000,
          },
          400_000,
        );
        await workers.call(0, { cmd: 'close', abrupt: true });
        await workers.call(0, { cmd: 'reset' });
      }
      if (STORMS > 0) await sleep(2000);
      const afterStorms = await target.memory();
      // One more churn of the same length: a leak shows as growth proportional to the work done.
      const row = {
        target: kind,
        cycles: run.cycles,
        cyclesPerSecond: round(run.cycles / (run.ms / 1000), 1),
        failures: run.failures,
        stormSubscribers: STORM * STORMS,
        heapMb: {
          base: round(base.heapUsed / MB),
          afterChurn: round(afterChurn.heapUsed / MB),
          afterStorms: round(afterStorms.heapUsed / MB),
        },
        heapGrowthBytesPerCycle: round((afterChurn.heapUsed - base.heapUsed) / Math.max(1, run.cycles), 1),
        heapGrowthAfterStormsMb: round((afterStorms.heapUsed - base.heapUsed) / MB),
        rssMb: { base: round(base.rss / MB), afterStorms: round(afterStorms.rss / MB) },
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    } catch (error) {
      rows.push({ target: kind, failed: String(error).slice(0, 500) });
      console.log(JSON.stringify(rows.at(-1)));
    } finally {
      await target.stop();
    }
  }
} finally {
  await workers.stop();
  await bench.stop();
}
await writeResult('m7', { machine: machine(), date: new Date().toISOString(), seconds: SECONDS, connections: CONNECTIONS, rows });
