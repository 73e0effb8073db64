import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'reelgraph-generate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

describe('the committed Prisma client', () => {
  it('is exactly what `npm run prisma:generate` produces from prisma/schema.prisma', () => {
    // Generate into a scratch copy of the project so a stale client is detected without touching the tree.
    mkdirSync(join(scratch, 'prisma'));
    copyFileSync(join(root, 'prisma/schema.prisma'), join(scratch, 'prisma/schema.prisma'));
    copyFileSync(join(root, 'package.json'), join(scratch, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
    const result = spawnSync(process.execPath, [join(root, 'node_modules/prisma/build/index.js'), 'generate', '--schema', 'prisma/schema.prisma'], {
      cwd: scratch,
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}`,
        PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
        CHECKPOINT_DISABLE: '1',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
      },
    });
    expect(result.status, result.stderr).toBe(0);

    const fresh = join(scratch, 'src/db/generated');
    const committed = join(root, 'src/db/generated');
    const names = (dir: string) => listFiles(dir).map((f) => relative(dir, f)).sort();
    expect(names(committed)).toEqual(names(fresh));
    for (const name of names(fresh)) {
      expect(readFileSync(join(committed, name), 'utf8'), `src/db/generated/${name} is stale: run npm run prisma:generate`).toBe(
        readFileSync(join(fresh, name), 'utf8'),
      );
    }
  });
});
