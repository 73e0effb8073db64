import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Where results go: bench/results/, or BENCH_RESULTS_DIR (e.g. for a small trial run). */
export const resultsDir = () =>
  process.env.BENCH_RESULTS_DIR
    ? `${process.env.BENCH_RESULTS_DIR.replace(/\/+$/, '')}/`
    : fileURLToPath(new URL('../results/', import.meta.url));

/** Each metric writes <results>/<name>.json; bench/run.ts prints the summary from them. */
export async function writeResult(name: string, data: unknown): Promise<void> {
  const dir = resultsDir();
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}${name}.json`, `${JSON.stringify(data, null, 2)}\n`);
}
