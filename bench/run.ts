/**
 * `npm run bench`: every metric of the performance issue, one after another, each in its own process pinned
 * to the load core (it holds the fal simulator and drives the load; subscribers live in further processes on
 * the same core), with every server under test pinned to the other core. Results: bench/results/<metric>.json
 * and a summary printed at the end (bench/results/summary.json).
 *
 *   BENCH_ONLY=m1,m3   run some metrics only (order: m1 m3 m4 m2 m6 m7 m5 m5b)
 *   BENCH_RESULTS_DIR=/tmp/x   write results elsewhere (a small trial run)
 *   see each bench/m*.ts header for its own knobs (subscriber counts, durations, targets)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { METRIC_FILES, runMetric } from './lib/metrics.ts';
import { resultsDir } from './lib/results.ts';
import { machine } from './lib/util.ts';

const ORDER = ['m1', 'm3', 'm4', 'm2', 'm6', 'm7', 'm5', 'm5b'];
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const metrics = ORDER.filter((m) => !only || only.includes(m));

console.log(`reelgraph benchmarks on ${machine()}, ${new Date().toISOString()}`);
const timings: Record<string, number> = {};
for (const metric of metrics) {
  console.log(`\n== ${metric} (${METRIC_FILES[metric]})`);
  const { code, seconds } = await runMetric(metric);
  timings[metric] = seconds;
  console.log(`== ${metric} done in ${timings[metric]} s (exit ${code})`);
}

const summary: Record<string, unknown> = { machine: machine(), date: new Date().toISOString(), secondsPerMetric: timings };
for (const metric of metrics) {
  try {
    summary[metric] = JSON.parse(await readFile(`${resultsDir()}${metric}.json`, 'utf8'));
  } catch {
    summary[metric] = null;
  }
}
await writeFile(`${resultsDir()}summary.json`, `${JSON.stringify(summary, null, 2)}\n`);

// Ratios the targets are stated in.
const m1 = summary.m1 as { rows: Array<{ scenario: string; target: string; latencyMs?: { p99: number } }> } | null;
if (m1) {
  console.log('\nM1 p99 (ms) by scenario and target, and reelgraph / peer ratio:');
  for (const scenario of [...new Set(m1.rows.map((r) => r.scenario))]) {
    const p99 = (t: string) => m1.rows.find((r) => r.scenario === scenario && r.target === t)?.latencyMs?.p99;
    const own = p99('reelgraph');
    const parts = ['raw-ws', 'mercurius', 'apollo'].map(
      (t) => `${t} ${p99(t) ?? '-'} (x${own && p99(t) ? (own / p99(t)!).toFixed(2) : '-'})`,
    );
    console.log(`  ${scenario}: reelgraph ${own ?? '-'}; ${parts.join('; ')}`);
  }
}
console.log(`\nresults in ${resultsDir()} (summary.json); total ${Object.values(timings).reduce((a, b) => a + b, 0)} s`);
