import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../helpers/app.ts';
import { cli } from './run-cli.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('the packed package runs its CLI from node_modules (built JavaScript, since Node will not strip types there)', async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelgraph-pack-'));
  // `npm pack` runs the prepack script (npm run build:cli) and packs what package.json "files" lists.
  const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--json', '--silent'], { cwd: ROOT, env: process.env });
  const [{ filename, files }] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  expect(files.map((f) => f.path)).toEqual(
    expect.arrayContaining(['bin/reelgraph.js', 'dist/cli/reelgraph/main.js', 'dist/client/gql/graphql.js']),
  );

  // Installed as a dependency of some project; its own dependencies resolve from this checkout's node_modules.
  const installed = join(dir, 'project', 'node_modules', 'reelgraph');
  await mkdir(installed, { recursive: true });
  await run('tar', ['-xzf', join(dir, filename), '-C', installed, '--strip-components=1']);
  await symlink(join(ROOT, 'node_modules'), join(installed, 'node_modules'));
  const bin = join(installed, 'bin', 'reelgraph.js');

  const help = await cli(['--help'], { command: [process.execPath, bin, '--help'] });
  expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('reelgraph generate') });
  expect(await cli([], { command: [process.execPath, bin, '--version'] })).toMatchObject({
    code: 0,
    stdout: expect.stringMatching(/^reelgraph \d/),
  });
  const port = await freePort();
  const list = await cli([], { command: [process.execPath, bin, 'list', '--server', `http://127.0.0.1:${port}`] });
  expect(list).toMatchObject({ code: 3, stderr: expect.stringContaining('ECONNREFUSED') });
}, 60_000);
