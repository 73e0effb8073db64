import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { disposeLeftovers, leftovers, registerLeftover } from './helpers/leftovers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

it('a server started by a failing test is disposed when its file ends', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'reelgraph-leftovers-'));
  try {
    const report = join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/fixtures/leftovers/vitest.config.ts', '--maxWorkers=1'],
      { cwd: ROOT, env: { ...process.env, LEFTOVERS_REPORT: report, CI: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const [code] = (await once(child, 'close')) as [number | null];
    // The fixture fails on purpose; everything else about the run must be fine.
    expect(code, output).toBe(1);
    expect(output).toContain('failing on purpose');
    const { open, leftovers: left } = JSON.parse(await readFile(report, 'utf8')) as {
      open: Array<{ url: string; accepts: boolean }>;
      leftovers: string[];
    };
    expect(open, 'the app and its fal simulator').toHaveLength(2);
    expect(open.filter((o) => o.accepts)).toEqual([]);
    expect(left).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('disposes newest first, each one even when another fails, and empties the registry', async () => {
  const order: string[] = [];
  registerLeftover('first', () => order.push('first'));
  registerLeftover('second', () => {
    throw new Error('second failed');
  });
  const release = registerLeftover('released', () => order.push('released'));
  release();
  registerLeftover('third', () => order.push('third'));
  await expect(disposeLeftovers()).rejects.toThrow('disposing leftovers failed for: second');
  expect(order).toEqual(['third', 'first']);
  expect(leftovers()).toEqual([]);
});
