/**
 * `npm run bench:quick`: the headline ratios in under 3 minutes, for a before/after on every change.
 * The same metric scripts as `npm run bench`, with shortened presets (each knob can be overridden from the
 * environment): M1 1 x 5,000 against raw ws, M5 steady-state ingest on PostgreSQL, M7 churn against Mercurius,
 * M4 against the raw driver on PGlite and PostgreSQL. Prints one table; writes <results>/quick.json (bench/results/
 * or BENCH_RESULTS_DIR) with every metric's raw rows. The per-metric files go to a temporary folder, so a quick
 * run never overwrites the full run's results.
 *
 *   BENCH_QUICK_ONLY=m1,m5   some of the four only
 * Quick numbers are one short run each: compare before/after in the same conditions, and take the full
 * `npm run bench` (median of three) for BENCHMARKS.md.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMetric } from './lib/metrics.ts';
import { formatHeadlines, headlines, type Results } from './lib/headlines.ts';
import { writeResult } from './lib/results.ts';
import { machine, round } from './lib/util.ts';

/** Shortened runs; anything already set in the environment wins. */
const PRESETS: Record<string, Record<string, string>> = {
  m1: { BENCH_M1_SCENARIOS: '1x5000', BENCH_TARGETS: 'reelgraph,raw-ws', BENCH_M1_LOGS: '5', BENCH_M1_INTERVAL_MS: '500' },
  // One subscriber per stream, so fan-out (about 50 us per delivery) does not cap what ingest can show.
  m5: {
    BENCH_M5_TARGETS: 'reelgraph-pg',
    BENCH_M5_STREAMS: '200',
    BENCH_M5_SUBSCRIBERS: '200',
    BENCH_M5_RATE: '12000',
    BENCH_M5_WARMUP_S: '3',
    BENCH_M5_SECONDS: '5',
    BENCH_M5_DRAIN_S: '5',
  },
  m7: {
    BENCH_M7_TARGETS: 'reelgraph,mercurius',
    BENCH_M7_SECONDS: '4',
    BENCH_M7_WARMUP_CYCLES: '200',
    BENCH_M7_WARMUP_S: '2',
    BENCH_M7_STORMS: '0',
  },
  // Warm enough that V8 has compiled reelgraph's code: M4's first seconds measure compilation (bench/m4-mutations.ts).
  m4: { BENCH_M4_SECONDS: '4', BENCH_M4_WARMUP_S: '6' },
};
const only = process.env.BENCH_QUICK_ONLY?.split(',').map((s) => s.trim());
const metrics = Object.keys(PRESETS).filter((m) => !only || only.includes(m));

type Rows = Array<Record<string, unknown>>;

const started = Date.now();
const load = { start: loadavg().map((n) => round(n, 2)) };
console.log(`reelgraph bench:quick on ${machine()}, ${new Date().toISOString()}, load average ${load.start.join(' ')}`);
const scratch = await mkdtemp(join(tmpdir(), 'reelgraph-bench-quick-'));
const results: Results & Record<string, { rows?: Rows } | null> = {};
const seconds: Record<string, number> = {};
try {
  for (const metric of metrics) {
    console.log(`\n== ${metric}`);
    const env = { ...PRESETS[metric], ...pick(Object.keys(PRESETS[metric])), BENCH_RESULTS_DIR: scratch };
    const run = await runMetric(metric, env);
    seconds[metric] = run.seconds;
    console.log(`== ${metric} done in ${run.seconds} s (exit ${run.code})`);
    results[metric] = await readFile(join(scratch, `${metric}.json`), 'utf8').then(
      (text) => JSON.parse(text) as (typeof results)[string],
      () => null, // the metric failed before writing its file: its rows show as '-'
    );
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}

/** The environment's own values for these knobs (they override the presets). */
function pick(keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]));
}

const row = (metric: string, match: (r: Record<string, unknown>) => boolean) => results[metric]?.rows?.find(match);
const m5 = row('m5', (r) => r.target === 'reelgraph-pg');
const table = headlines(results);
// What must hold for the ratios to mean anything: nothing lost, no gaps, no failed cycles (and any failure text).
const own1 = row('m1', (r) => r.target === 'reelgraph');
const own7 = row('m7', (r) => r.target === 'reelgraph');
const checks = {
  m1: own1 && { lost: own1.lost, gaps: own1.gaps, failed: own1.failed },
  m5: m5 && {
    offeredEventsPerSecond: m5.offeredEventsPerSecond,
    runEventsPerSecond: m5.runEventsPerSecond,
    startedMs: m5.startedMs,
    subscribers: m5.subscribers,
    completes: m5.completes,
    gaps: m5.gaps,
    failed: m5.failed,
  },
  m7: own7 && { failures: own7.failures, failed: own7.failed },
};

const total = Math.round((Date.now() - started) / 1000);
const loadEnd = loadavg().map((n) => round(n, 2));
console.log(`\n${formatHeadlines(table)}`);
console.log(`checks: ${JSON.stringify(checks)}`);
console.log(`took ${total} s (${JSON.stringify(seconds)}); load average ${load.start.join(' ')} at start, ${loadEnd.join(' ')} at end`);
await writeResult('quick', {
  machine: machine(),
  date: new Date().toISOString(),
  seconds: total,
  secondsPerMetric: seconds,
  loadAverage: { start: load.start, end: loadEnd },
  presets: PRESETS,
  table,
  checks,
  results,
});
