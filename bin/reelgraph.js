#!/usr/bin/env node
// The `reelgraph` command. In a checkout it runs the TypeScript sources directly (Node 24 strips types). Node
// refuses to strip types under node_modules, so an installed copy runs the JavaScript that `npm run build:cli`
// emitted into dist/ (run by `prepare` and `prepack`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`reelgraph: needs Node.js 24 (this is ${process.version}); in a checkout run it as \`npx reelgraph\`, which uses the Node from node_modules/.bin\n`);
  process.exit(2);
}

const source = new URL('../src/cli/reelgraph/main.ts', import.meta.url);
const built = new URL('../dist/cli/reelgraph/main.js', import.meta.url);
const installed = fileURLToPath(import.meta.url).split(/[\\/]/).includes('node_modules');
const entry = !installed && existsSync(source) ? source : built;
if (!existsSync(entry)) {
  process.stderr.write('reelgraph: the CLI was not built; run `npm run build:cli` in the package directory\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();
