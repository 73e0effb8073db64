/**
 * `npm run bench`: every metric of the performance issue, one after another, each in its own process pinned
 * to the load core (it holds the fal simulator and drives the load; subscribers live in further processes on
 * the same core), with every server under test pinned to the other core. Results: bench/results/<metric>.json
 * and a summary printed at the end (bench/results/summary.json).
 *
 * Ratios move between runs, so the metrics the headline ratios come from (M1 1x5000 and 1000x10, M4, M5 ingest,
 * M6, M7) are then run BENCH_REPEAT - 1 more times with only what those ratios need (bench/results/runs/run-<k>/),
 * and each headline is reported as the median of the BENCH_REPEAT runs with its range
 * (bench/results/headlines.json, bench/lib/headlines.ts).
 *
 *   BENCH_ONLY=m1,m3   run some metrics only (order: m1 m3 m4 m2 m6 m7 m5 m5-5k m5b)
 *   BENCH_REPEAT=1     the full pass only (default 3)
 *   BENCH_RESULTS_DIR=/tmp/x   write results elsewhere (a small trial run)
 *   see each bench/m*.ts header for its own knobs (subscriber counts, durations, targets); anything set in the
 *   environment wins over the presets below
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { formatHeadlines, formatMedians, headlines, medians, type Results } from './lib/headlines.ts';
import { METRIC_FILES, runMetric } from './lib/metrics.ts';
import { resultsDir } from './lib/results.ts';
import { envInt, machine, round } from './lib/util.ts';

/** A pass of one metric: which script, with which settings, into which results folder. */
interface Step {
  /** The name the pass is reported under (m5-5k is M5 with 5,000 subscribers). */
  name: string;
  metric: string;
  env: Record<string, string>;
}

/**
 * The full pass. M5 runs twice: with one subscriber per stream (ingest alone: the headline), and with 5,000
 * subscribers (25 per stream at 200 streams, where fan-out and the load core's frame parsing dominate).
 */
const FULL: Step[] = [
  { name: 'm1', metric: 'm1', env: {} },
  { name: 'm3', metric: 'm3', env: {} },
  { name: 'm4', metric: 'm4', env: {} },
  { name: 'm2', metric: 'm2', env: {} },
  { name: 'm6', metric: 'm6', env: {} },
  { name: 'm7', metric: 'm7', env: {} },
  { name: 'm5', metric: 'm5', env: { BENCH_M5_STREAMS: '200,2000', BENCH_M5_SUBSCRIBERS: '200' } },
  { name: 'm5-5k', metric: 'm5', env: { BENCH_M5_STREAMS: '200,2000', BENCH_M5_SUBSCRIBERS: '5000', BENCH_M5_TARGETS: 'reelgraph-pg' } },
  { name: 'm5b', metric: 'm5b', env: { BENCH_M5B_STREAMS: '200,2000' } },
];

/** The repeat passes: only what the headline ratios need. */
const REPEATS: Step[] = [
  { name: 'm1', metric: 'm1', env: { BENCH_M1_SCENARIOS: '1x5000,1000x10', BENCH_TARGETS: 'reelgraph,raw-ws,mercurius' } },
  { name: 'm4', metric: 'm4', env: {} },
  { name: 'm6', metric: 'm6', env: {} },
  { name: 'm7', metric: 'm7', env: { BENCH_M7_TARGETS: 'reelgraph,mercurius', BENCH_M7_STORMS: '0' } },
  { name: 'm5', metric: 'm5', env: { BENCH_M5_STREAMS: '200', BENCH_M5_SUBSCRIBERS: '200' } },
];

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const chosen = (steps: Step[]) => steps.filter((s) => !only || only.includes(s.name));
const REPEAT = envInt('BENCH_REPEAT', 3);
const root = resultsDir();

/** The step's own settings, under anything the caller set in the environment. */
const envOf = (step: Step, dir: string) => ({
  ...step.env,
  ...Object.fromEntries(Object.keys(step.env).flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]]]))),
  BENCH_RESULTS_DIR: dir,
});

async function runPass(steps: Step[], dirOf: (step: Step) => string, timings: Record<string, number>) {
  for (const step of steps) {
    const dir = dirOf(step);
    await mkdir(dir, { recursive: true });
    console.log(`\n== ${step.name} (${METRIC_FILES[step.metric]}) -> ${dir}`);
    const { code, seconds } = await runMetric(step.metric, envOf(step, dir));
    timings[step.name] = (timings[step.name] ?? 0) + seconds;
    console.log(`== ${step.name} done in ${seconds} s (exit ${code})`);
  }
}

/** A pass's metric files, by metric (the m5-5k variant is left out: it has no headline ratio of its own). */
async function readPass(steps: Step[], dirOf: (step: Step) => string): Promise<Results> {
  const results: Results = {};
  for (const step of steps) {
    if (step.name !== step.metric) continue;
    results[step.metric] = await readFile(`${dirOf(step)}${step.metric}.json`, 'utf8').then(
      (text) => JSON.parse(text) as Results[string],
      () => null,
    );
  }
  return results;
}

const started = Date.now();
const load = { start: loadavg().map((n) => round(n, 2)) };
console.log(`reelgraph benchmarks on ${machine()}, ${new Date().toISOString()}, load average ${load.start.join(' ')}`);
const timings: Record<string, number> = {};
const fullDir = (step: Step) => (step.name === step.metric ? root : `${root}${step.name}/`);
await runPass(chosen(FULL), fullDir, timings);
const passes: Results[] = [await readPass(chosen(FULL), fullDir)];
for (let k = 2; k <= REPEAT; k += 1) {
  const dir = () => `${root}runs/run-${k}/`;
  await runPass(chosen(REPEATS), dir, timings);
  passes.push(await readPass(chosen(REPEATS), dir));
}

const perRun = passes.map((results) => headlines(results));
const table = medians(perRun);
const loadEnd = loadavg().map((n) => round(n, 2));
const summary: Record<string, unknown> = {
  machine: machine(),
  date: new Date().toISOString(),
  command: `BENCH_REPEAT=${REPEAT}${only ? ` BENCH_ONLY=${only.join(',')}` : ''} npm run bench`,
  loadAverage: { start: load.start, end: loadEnd },
  secondsPerMetric: timings,
  ...passes[0],
};
await writeFile(`${root}summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
await writeFile(
  `${root}headlines.json`,
  `${JSON.stringify({ machine: machine(), date: new Date().toISOString(), runs: passes.length, medians: table, perRun }, null, 2)}\n`,
);

console.log(`\nFirst (full) pass:\n${formatHeadlines(perRun[0])}`);
console.log(`\nMedian of ${passes.length} run(s), with range:\n${formatMedians(table)}`);
const total = Math.round((Date.now() - started) / 1000);
console.log(
  `\nresults in ${root} (summary.json, headlines.json); total ${total} s; load average ${load.start.join(' ')} -> ${loadEnd.join(' ')}`,
);
