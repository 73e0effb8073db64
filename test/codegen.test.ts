import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '@graphql-codegen/cli';
import { expect, it } from 'vitest';
import config from '../codegen.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

it('the committed typed client (src/client/gql) is what `npm run codegen` generates from schema.graphql and the documents', async () => {
  // Generated in memory with the project's own config (not written anywhere), then compared file by file.
  const generated = (await generate({ ...config, cwd: ROOT, silent: true, verbose: false }, false)) as Array<{
    filename: string;
    content: string;
  }>;
  const [target] = Object.keys(config.generates);
  expect(generated.length).toBeGreaterThan(0);
  const committedNames = (await readdir(join(ROOT, target))).sort();
  expect(committedNames, 'files in src/client/gql').toEqual(generated.map((f) => basename(f.filename)).sort());
  for (const file of generated) {
    const committed = await readFile(join(ROOT, target, basename(file.filename)), 'utf8');
    expect(committed, `${file.filename} is stale: run \`npm run codegen\` and commit the result`).toBe(file.content);
  }
}, 60_000);
