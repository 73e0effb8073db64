import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Each metric writes bench/results/<name>.json; bench/run.ts prints the summary from them. */
export async function writeResult(name: string, data: unknown): Promise<void> {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}${name}.json`, `${JSON.stringify(data, null, 2)}\n`);
}
