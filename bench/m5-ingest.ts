/**
 * M5: steady-state upstream log ingest (issue #15's definition). BENCH_M5_STREAMS concurrent fal status streams
 * (one per generation; default 200, BENCH_M5_STREAMS=200,2000 for the issue's range) are held until every
 * subscriber is in place, then released together and stay IN_PROGRESS for the whole run while each streams log
 * lines, BENCH_M5_RATE lines/s offered in total; nothing completes during the measurement, so per-generation
 * lifecycle work stays out of the window. BENCH_M5_SUBSCRIBERS subscribers (round-robin over the generations)
 * listen. Once every subscriber has seen its generation go IN_PROGRESS (at most BENCH_M5_START_S seconds) and
 * BENCH_M5_WARMUP_S more have passed, a window of BENCH_M5_SECONDS seconds counts the upstream log events that reached their subscribers (persisted first, then published: one
 * arrival per event, however many subscribers it has), their latency from fal's timestamp, and the server's
 * CPU. Then the simulator completes every stream and, within BENCH_M5_DRAIN_S seconds, every subscriber must get
 * its completion with no sequence gap (so it had every line, in order, once; `completes` short of `subscribers`
 * means a server still behind the offered rate at the end of the drain). The lifecycle-heavy variant is bench/m5b-lifecycle.ts (M5b).
 *
 *   BENCH_M5_STREAMS=200  BENCH_M5_SUBSCRIBERS=5000  BENCH_M5_RATE=12000  BENCH_M5_WARMUP_S=3  BENCH_M5_SECONDS=10
 *   BENCH_M5_START_S=120  BENCH_M5_DRAIN_S=30  BENCH_M5_TARGETS=reelgraph,reelgraph-pg
 * reelgraph only: the peers persist nothing.
 */
import { EVENTS_QUERY } from './lib/queries.ts';
import { startSim } from './lib/sim.ts';
import { startTarget, startWorkers, type TargetKind } from './lib/targets.ts';
import { cpuSeconds, envInt, envList, LOAD_CORE, machine, round, sleep, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const STREAMS = envList('BENCH_M5_STREAMS', [200]);
const SUBSCRIBERS = envInt('BENCH_M5_SUBSCRIBERS', 5000);
const RATE = envInt('BENCH_M5_RATE', 12_000);
const WARMUP = envInt('BENCH_M5_WARMUP_S', 3);
const SECONDS = envInt('BENCH_M5_SECONDS', 10);
const DRAIN = envInt('BENCH_M5_DRAIN_S', 30);
const START = envInt('BENCH_M5_START_S', 120);
const kinds = (process.env.BENCH_M5_TARGETS ?? 'reelgraph,reelgraph-pg').split(',') as TargetKind[];
// Long enough that no generation completes while anything is measured (the target is stopped first).
const NEVER = 24 * 3600 * 1000;
const now = () => performance.timeOrigin + performance.now();

/** The server's own count of stored log lines (GET /metrics is open on a loopback bind). */
async function linesStored(graphqlUrl: string): Promise<number> {
  try {
    const text = await (await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics'))).text();
    const match = /^reelgraph_log_lines_ingested_total(?:\{[^}]*\})? (\S+)$/m.exec(text);
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN; // a server too busy (or gone) to answer: the row still reports what the subscribers saw
  }
}

const bench = await startSim({ queuePosition: 0, queueStepMs: 5, completeDelayMs: NEVER, pauseBefore: 'IN_PROGRESS' });
// Lines the simulator emitted inside the window (its own clock): the offered rate actually achieved by its timers.
let emittedFrom = Infinity;
let emittedTo = -Infinity;
let emitted = 0;
bench.sim.events.on('log', () => {
  const t = now();
  if (t >= emittedFrom && t <= emittedTo) emitted += 1;
});
const workers = await startWorkers(1, LOAD_CORE);
const rows: Array<Record<string, unknown>> = [];
try {
  for (const kind of kinds) {
    for (const streams of STREAMS) {
      const interval = Math.max(1, Math.round((streams * 1000) / RATE));
      // Enough lines for the start, the warm-up and the window; the rest are cut short by completeNow.
      const logs = Math.ceil(((START + WARMUP + SECONDS + 1) * 1000) / interval);
      bench.sim.configure({ logCount: logs, logIntervalMs: interval });
      const target = await startTarget(kind, bench.sim.url, { DATABASE_POOL_SIZE: '20' });
      try {
        bench.take();
        const ids = await target.submit(streams);
        const upstream = bench.take();
        const subscriberIds = Array.from({ length: Math.max(SUBSCRIBERS, streams) }, (_, i) => ids[i % ids.length]);
        const opened = await workers.call<{ ms: number; ready: number }>(
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
        const t0 = now();
        bench.resume(upstream);
        // The IN_PROGRESS transitions (lifecycle work, one per generation) reach every subscriber first; the
        // window starts a warm-up after that, so it holds log ingest only (lines offered meanwhile are a
        // backlog the warm-up drains, if the server can).
        const movedSubscribers = await workers.call<number>(0, { cmd: 'waitMoved', timeoutMs: START * 1000 }, START * 1000 + 10_000);
        const startedMs = now() - t0;
        let from = now() + WARMUP * 1000;
        // A swamped load core can answer after the window was to start: set it again from the answer, so the
        // window always lies wholly after the worker knows it (and the server's CPU is read over all of it).
        for (let tries = 0; ; tries += 1) {
          await workers.call(0, { cmd: 'window', from, to: from + SECONDS * 1000 });
          if (now() < from || tries === 5) break;
          from = now() + WARMUP * 1000;
        }
        const to = from + SECONDS * 1000;
        emitted = 0;
        emittedFrom = from;
        emittedTo = to;
        // Server CPU over the window only.
        await sleep(from - now());
        const cpu0 = cpuSeconds(target.pid);
        // Not awaited here: a busy server can take seconds to answer /metrics, which must not move the window.
        const stored0 = linesStored(target.url);
        const stopProfile = await target.profile(`m5-${streams}`);
        await sleep(to - now());
        const cpu = cpuSeconds(target.pid) - cpu0;
        const stored = (await linesStored(target.url)) - (await stored0);
        await stopProfile();
        const w = await workers.call<{ events: number; deliveries: number; latencies: number[] }>(0, { cmd: 'windowStats' });
        // Then every stream completes: a subscriber that gets its completion with no sequence gap got every line.
        for (const id of upstream) bench.sim.completeNow(id);
        const completes = await workers.call<number>(
          0,
          { cmd: 'waitComplete', expected: subscriberIds.length, timeoutMs: DRAIN * 1000 },
          DRAIN * 1000 + 10_000,
        );
        const s = await workers.call<{
          deliveries: number;
          events: number;
          lastLogAt: number;
          gaps: number;
          errors: string[];
          unfinishedLastSequences: number[];
          latencies: number[];
        }>(0, {
          cmd: 'stats',
          raw: true,
        });
        const row = {
          target: kind,
          streams,
          subscribers: subscriberIds.length,
          connectMs: opened.ms,
          logIntervalMs: interval,
          logsPerStream: logs,
          windowSeconds: SECONDS,
          offeredEventsPerSecond: round(emitted / SECONDS, 0),
          ingestedEventsPerSecond: round(w.events / SECONDS, 0),
          // What the server itself stored in the window (its reelgraph_log_lines_ingested_total): above the rate
          // that reached subscribers, the delivery path is behind; equal, ingest is the limit.
          storedEventsPerSecond: round(stored / SECONDS, 0),
          deliveriesPerSecond: round(w.deliveries / SECONDS, 0),
          windowLatencyMs: summary(w.latencies),
          serverCpuMsPerEvent: round((cpu * 1000) / Math.max(1, w.events), 3),
          // Over the whole run: IN_PROGRESS at every subscriber (ms from release), then the completions after the
          // drain (every subscriber completed with 0 gaps: every line reached it, in order, once).
          startedMs: round(startedMs, 0),
          movedSubscribers,
          runEventsPerSecond: round(s.events / Math.max(0.001, (s.lastLogAt - t0) / 1000), 0),
          deliveries: s.deliveries,
          completes,
          gaps: s.gaps,
          unfinishedLastSequences: s.unfinishedLastSequences.slice(0, 5),
          latencyMs: summary(s.latencies),
          errors: s.errors.slice(0, 3),
        };
        rows.push(row);
        console.log(JSON.stringify(row));
      } catch (error) {
        rows.push({ target: kind, streams, failed: String(error).slice(0, 500) });
        console.log(JSON.stringify(rows.at(-1)));
      } finally {
        emittedFrom = Infinity;
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
await writeResult('m5', { machine: machine(), date: new Date().toISOString(), rate: RATE, warmupSeconds: WARMUP, seconds: SECONDS, rows });
