/**
 * M4: `generateVideo` submissions per second with persistence, on PGlite and on PostgreSQL, against the same
 * mutation's database work on the raw driver (bench/peers/raw-driver.ts). A closed loop of BENCH_M4_CONCURRENCY
 * clients posting the mutation for BENCH_M4_SECONDS after a short warm-up; the simulator holds every request
 * in its queue, so no generation runs. BENCH_M4_WARMUP_S (10) seconds of the same loop come first: measured
 * on this machine, a server's first seconds go to V8 compiling its code on background threads (reelgraph, with
 * Yoga, Pothos and the fal client, spent 13 ms of CPU per mutation on them after a 2 s warm-up and 3 ms after
 * 12 s; the floor, a far smaller program, 2 ms either way), which is start-up, not the mutation's cost.
 */
import pg from 'pg';
import { startSim } from './lib/sim.ts';
import { GENERATE, startTarget, type TargetKind } from './lib/targets.ts';
import { cpuSeconds, envInt, machine, round, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const SECONDS = envInt('BENCH_M4_SECONDS', 15);
const CONCURRENCY = envInt('BENCH_M4_CONCURRENCY', 16);
const WARMUP = envInt('BENCH_M4_WARMUP_S', 10);
const targets = (process.env.BENCH_M4_TARGETS ?? 'reelgraph,raw-driver,reelgraph-pg,raw-driver-pg').split(',') as TargetKind[];

const bench = await startSim({ queuePosition: 5, queueStepMs: 3_600_000, pauseBefore: 'IN_PROGRESS' });
const rows: Array<Record<string, unknown>> = [];

async function load(url: string, headers: Record<string, string>, seconds: number) {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let firstError = '';
  const end = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ query: GENERATE, variables: { i: { imageUrl: 'https://example.com/a.png', prompt: `bench ${n++}` } } }),
        });
        const text = await response.text();
        if (response.ok && text.includes('GenerateVideoSuccess')) {
          ok += 1;
          latencies.push(performance.now() - t);
        } else {
          failed += 1;
          firstError ||= text.slice(0, 300);
        }
      }
    }),
  );
  return { ok, failed, firstError, latencies };
}

try {
  for (const kind of targets) {
    const target = await startTarget(kind, bench.sim.url, { DATABASE_POOL_SIZE: String(CONCURRENCY) });
    try {
      await load(target.url, target.headers, WARMUP);
      // Statements per mutation on PostgreSQL, from the server's own statistics (transactions committed).
      const stats = async () => {
        if (!target.database) return 0;
        const client = new pg.Client({ connectionString: target.database.url });
        await client.connect();
        await client.query('SELECT pg_stat_clear_snapshot()');
        const { rows: r } = await client.query<{ n: string }>(
          'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
        );
        await client.end();
        return Number(r[0].n);
      };
      const tx0 = await stats();
      const stopProfile = await target.profile('m4');
      const fal0 = { ...bench.sim.stats };
      const cpu0 = cpuSeconds(target.pid);
      const main0 = cpuSeconds(target.pid, target.pid);
      const run = await load(target.url, target.headers, SECONDS);
      const cpu = cpuSeconds(target.pid) - cpu0;
      const main = cpuSeconds(target.pid, target.pid) - main0;
      const fal1 = { ...bench.sim.stats };
      await stopProfile();
      await new Promise((resolve) => setTimeout(resolve, 600)); // statistics are flushed about every 500 ms
      const tx1 = await stats();
      const row = {
        target: kind,
        perSecond: round(run.ok / SECONDS, 1),
        ok: run.ok,
        failed: run.failed,
        latencyMs: summary(run.latencies),
        // The server process' own CPU per mutation (PGlite runs inside it; a PostgreSQL server does not).
        serverCpuMsPerMutation: round((cpu * 1000) / Math.max(1, run.ok), 2),
        // Of which the JavaScript thread (the rest: GC helpers, the profiler's sampler, libuv's pool).
        serverMainThreadCpuMsPerMutation: round((main * 1000) / Math.max(1, run.ok), 2),
        // What the server asked of fal per mutation in the window (the same simulator serves every target in turn):
        // a status poll while a stream is open is the tracker's safety poll (every 10 s per open stream, reelgraph only).
        falPerMutation: {
          submits: round((fal1.submits - fal0.submits) / Math.max(1, run.ok), 2),
          statusPolls: round((fal1.statusPolls - fal0.statusPolls) / Math.max(1, run.ok), 2),
          streamsOpened: round((fal1.streamsOpened - fal0.streamsOpened) / Math.max(1, run.ok), 2),
        },
        peakRssMb: Math.round(target.rssMb()),
        transactionsPerMutation: target.database ? round((tx1 - tx0 - 2) / Math.max(1, run.ok), 1) : undefined,
        firstError: run.firstError || undefined,
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
  await bench.stop();
}
const rate = (kind: string) => rows.find((r) => r.target === kind)?.perSecond as number | undefined;
const ratio = (a: string, b: string) => (rate(a) && rate(b) ? round(rate(a)! / rate(b)!, 2) : null);
await writeResult('m4', {
  machine: machine(),
  date: new Date().toISOString(),
  seconds: SECONDS,
  concurrency: CONCURRENCY,
  rows,
  ratios: { pgliteVsRaw: ratio('reelgraph', 'raw-driver'), postgresVsRaw: ratio('reelgraph-pg', 'raw-driver-pg') },
});
