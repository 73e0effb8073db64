import { readFileSync, writeFileSync } from 'node:fs';
import { printSchemaSDL } from '../schema/index.ts';

// `npm run print-schema` rewrites schema.graphql; `npm run print-schema -- --check` fails when it is stale.
const target = new URL('../../schema.graphql', import.meta.url);
const sdl = printSchemaSDL();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // no schema.graphql yet: it is stale
  }
  if (current !== sdl) {
    process.stderr.write('schema.graphql is stale: run `npm run print-schema`\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, sdl);
  process.stdout.write('wrote schema.graphql\n');
}
