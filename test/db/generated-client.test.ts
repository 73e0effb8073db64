import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const committed = join(root, 'src/db/generated');

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('the committed Prisma client in src/db/generated', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'reelgraph-generate-'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('is exactly what `npm run prisma:generate` makes of prisma/schema.prisma', async () => {
    // The real script on a scratch copy of the schema: the generator outputs are relative to the schema file,
    // so it writes scratch/src/db/generated and leaves the working tree alone (no git needed, clean or not).
    await mkdir(join(scratch, 'prisma'));
    await copyFile(join(root, 'prisma/schema.prisma'), join(scratch, 'prisma/schema.prisma'));
    await run(process.execPath, [join(root, 'scripts/prisma-generate.ts'), '--schema', join(scratch, 'prisma/schema.prisma')], {
      cwd: root,
    });

    const fresh = join(scratch, 'src/db/generated');
    const names = await listFiles(fresh);
    expect(names).toContain('client.ts');
    expect(names).toContain('pothos-types.ts');
    expect(await listFiles(committed), 'files in src/db/generated: run npm run prisma:generate').toEqual(names);
    for (const name of names) {
      const [want, have] = await Promise.all([readFile(join(fresh, name), 'utf8'), readFile(join(committed, name), 'utf8')]);
      expect(have === want, `src/db/generated/${name} is stale: run npm run prisma:generate and commit the result`).toBe(true);
    }
  });

  it('runs under plain Node 24 type stripping, WASM query compiler included, with no build step', async () => {
    // Vitest compiles TypeScript itself, so only a separate `node` process proves what `npm start` relies on.
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
    const script = `
      const { createDb, migrate, GenerationStatus } = await import(${JSON.stringify(pathToFileURL(join(root, 'src/db/index.ts')).href)});
      const db = await createDb({ kind: 'pglite', dataDir: null });
      try {
        await migrate(db);
        const g = await db.prisma.generation.create({ data: { backend: 'FAL', endpointId: 'e', imageUrl: 'i', duration: 5, generateAudio: true, shotType: 'customize', falInput: { a: [1] } } });
        const read = await db.prisma.generation.findMany({ where: { status: GenerationStatus.PENDING }, include: { events: true } });
        console.log(JSON.stringify({ id: g.id, status: read[0].status, falInput: read[0].falInput, events: read[0].events }));
      } finally {
        await db.close();
      }`;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '--eval', script], { cwd: tmpdir() });
    expect(stderr).not.toMatch(/error|warning/i);
    expect(JSON.parse(stdout)).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'PENDING',
      falInput: { a: [1] },
      events: [],
    });
  });
});
