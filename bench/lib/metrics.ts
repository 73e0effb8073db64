/** The metric scripts and how one is run: its own process pinned to the load core (bench/run.ts, bench/quick.ts). */
import { fileURLToPath } from 'node:url';
import { LOAD_CORE, spawnPinned } from './util.ts';

export const METRIC_FILES: Record<string, string> = {
  m1: 'm1-latency.ts',
  m2: 'm2-sustained.ts',
  m3: 'm3-memory.ts',
  m4: 'm4-mutations.ts',
  m5: 'm5-ingest.ts',
  m5b: 'm5b-lifecycle.ts',
  m6: 'm6-history.ts',
  m7: 'm7-churn.ts',
};

/** Runs one metric to its end, its output on ours; returns its exit code and seconds taken. */
export async function runMetric(metric: string, env: Record<string, string> = {}): Promise<{ code: number | null; seconds: number }> {
  const started = Date.now();
  const script = fileURLToPath(new URL(`../${METRIC_FILES[metric]}`, import.meta.url));
  const child = spawnPinned(LOAD_CORE, [script], env, ['--max-old-space-size=4096']);
  child.child.stdout!.pipe(process.stdout);
  child.child.stderr!.pipe(process.stderr);
  const [code] = (await child.exited) as [number | null];
  return { code, seconds: Math.round((Date.now() - started) / 1000) };
}
