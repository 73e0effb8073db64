/**
 * M2: sustained fan-out. BENCH_M2_SUBSCRIBERS (5k) subscribers over BENCH_M2_GENERATIONS (500) generations
 * (10 each); every generation emits BENCH_M2_LOGS log lines at a fixed interval, generations' starts spread over
 * one interval so the load is even. The interval halves step by step (BENCH_M2_INTERVALS) until p99 delivery
 * latency exceeds 250 ms or a delivery is lost; the result is the highest delivery rate that passed.
 */
import { EVENTS_QUERY } from './lib/queries.ts';
import { startSim } from './lib/sim.ts';
import { PEERS, startTarget, startWorkers, type TargetKind } from './lib/targets.ts';
import { envInt, envList, LOAD_CORE, machine, round, sleep, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const GENERATIONS = envInt('BENCH_M2_GENERATIONS', 500);
const SUBSCRIBERS = envInt('BENCH_M2_SUBSCRIBERS', 5000);
const LOGS = envInt('BENCH_M2_LOGS', 10);
const INTERVALS = envList('BENCH_M2_INTERVALS', [1000, 500, 250, 125, 62]);
const P99_LIMIT = 250;
const targets = (process.env.BENCH_TARGETS ?? ['reelgraph', ...PEERS].join(',')).split(',') as TargetKind[];
const per = Math.max(1, Math.round(SUBSCRIBERS / GENERATIONS));

const bench = await startSim({ queuePosition: 0, queueStepMs: 5, logCount: LOGS, pauseBefore: 'IN_PROGRESS' });
const workers = await startWorkers(1, LOAD_CORE);
const results: Array<Record<string, unknown>> = [];
try {
  for (const kind of targets) {
    const target = await startTarget(kind, bench.sim.url);
    const steps: Array<Record<string, unknown>> = [];
    try {
      for (const interval of INTERVALS) {
        bench.sim.configure({ logIntervalMs: interval, completeDelayMs: interval });
        bench.take();
        const ids = await target.submit(GENERATIONS);
        const upstream = bench.take();
        const subscriberIds = ids.flatMap((id) => Array.from({ length: per }, () => id));
        const opened = await workers.call<{ ready: number }>(
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
        const t0 = performance.now();
        // Spread the generations' starts over one interval, so events arrive evenly rather than in bursts.
        for (let i = 0; i < upstream.length; i += 1) setTimeout(() => bench.resume([upstream[i]]), (i * interval) / upstream.length);
        const expected = subscriberIds.length;
        await workers.call(0, { cmd: 'waitComplete', expected, timeoutMs: LOGS * interval + 60_000 }, LOGS * interval + 70_000);
        const seconds = (performance.now() - t0) / 1000;
        const s = await workers.call<{ completes: number; gaps: number; latencies: number[] }>(0, { cmd: 'stats', raw: true });
        await workers.call(0, { cmd: 'close', abrupt: false });
        await workers.call(0, { cmd: 'reset' });
        const latency = summary(s.latencies);
        const lost = expected * LOGS - s.latencies.length;
        const step = {
          intervalMs: interval,
          offeredEventsPerSecond: round((GENERATIONS * 1000) / interval, 0),
          offeredDeliveriesPerSecond: round((expected * 1000) / interval, 0),
          achievedDeliveriesPerSecond: round(s.latencies.length / seconds, 0),
          subscribers: opened.ready,
          lost,
          gaps: s.gaps,
          latencyMs: latency,
          passed: lost === 0 && s.gaps === 0 && latency.p99 <= P99_LIMIT,
        };
        steps.push(step);
        console.log(JSON.stringify({ target: kind, ...step }));
        if (!step.passed) break;
      }
    } catch (error) {
      steps.push({ failed: String(error).slice(0, 500) });
      console.log(JSON.stringify({ target: kind, ...steps.at(-1) }));
      await workers.call(0, { cmd: 'close', abrupt: true }).catch(() => {});
      await workers.call(0, { cmd: 'reset' }).catch(() => {});
    } finally {
      await target.stop();
    }
    const best = steps.filter((s) => s.passed).at(-1);
    results.push({ target: kind, sustainedDeliveriesPerSecond: best?.offeredDeliveriesPerSecond ?? 0, steps });
  }
} finally {
  await workers.stop();
  await bench.stop();
}
await writeResult('m2', {
  machine: machine(),
  date: new Date().toISOString(),
  generations: GENERATIONS,
  subscribers: SUBSCRIBERS,
  logsPerGeneration: LOGS,
  p99LimitMs: P99_LIMIT,
  results,
});
