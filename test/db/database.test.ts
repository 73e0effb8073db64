import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Database } from '../../src/db/index.ts';
import { createTestPglite, createTestPostgres } from '../helpers/db.ts';

const generation = (n: number | string) =>
  ({
    backend: 'SIMULATOR',
    endpointId: `e-${n}`,
    imageUrl: 'i',
    duration: 5,
    generateAudio: false,
    shotType: 'customize',
    falInput: { n },
  }) as const;

describe('createDb on PGlite', () => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestPglite();
  });
  afterAll(() => db?.close());

  it('serves concurrent queries and transactions on its single session', async () => {
    const { prisma } = db;
    const results = await Promise.allSettled([
      ...Array.from({ length: 40 }, (_, i) => prisma.generation.create({ data: generation(`c${i}`) })),
      prisma.$transaction(async (tx) => {
        const g = await tx.generation.create({ data: generation('itx') });
        await tx.generationEvent.create({ data: { generationId: g.id, sequence: 1, kind: 'LOG' } });
      }),
      prisma.$transaction([
        prisma.generation.create({ data: generation('batch1') }),
        prisma.generation.create({ data: generation('batch2') }),
      ]),
      prisma.$transaction(async (tx) => {
        await tx.generation.create({ data: generation('rolled-back') });
        throw new Error('roll back');
      }),
      ...Array.from({ length: 20 }, () => prisma.generation.count()),
    ]);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual(['Error: roll back']);
    expect(await prisma.generation.count({ where: { endpointId: { startsWith: 'e-c' } } })).toBe(40);
    expect(await prisma.generation.count({ where: { endpointId: { in: ['e-itx', 'e-batch1', 'e-batch2'] } } })).toBe(3);
    expect(await prisma.generation.count({ where: { endpointId: 'e-rolled-back' } })).toBe(0);
  });

  it("never runs another caller's query inside an open transaction (so a rollback cannot take it along)", async () => {
    const { prisma } = db;
    let outside: Promise<unknown> | undefined;
    await expect(
      prisma.$transaction(async (tx) => {
        await tx.generation.create({ data: generation('inside') });
        // Started while the transaction is open; on a naive shared session it would join the transaction.
        outside = prisma.generation.create({ data: generation('outside') });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await outside;
    expect(await prisma.generation.count({ where: { endpointId: 'e-inside' } })).toBe(0);
    expect(await prisma.generation.count({ where: { endpointId: 'e-outside' } })).toBe(1);
  });

  it("runs with 32 MB of shared buffers, not PostgreSQL's 128 MB (resident in the process from the start)", async () => {
    expect(await db.query('SHOW shared_buffers')).toEqual([{ shared_buffers: '32MB' }]);
    // PGlite's own start parameters are kept under ours.
    expect(await db.query('SHOW max_parallel_workers_per_gather')).toEqual([{ max_parallel_workers_per_gather: '0' }]);
  });

  it('runs multi-statement SQL and parameterised queries outside Prisma', async () => {
    await db.exec('CREATE TABLE scratch (n int); INSERT INTO scratch VALUES (1), (2), (3);');
    expect(await db.query<{ n: number }>('SELECT n FROM scratch WHERE n >= $1 ORDER BY n', [2])).toEqual([{ n: 2 }, { n: 3 }]);
    await expect(
      db.withSession((s) =>
        s.transaction(async (tx) => {
          await tx.exec('INSERT INTO scratch VALUES (4)');
          throw new Error('undo');
        }),
      ),
    ).rejects.toThrow('undo');
    expect(await db.query('SELECT n FROM scratch WHERE n = 4')).toEqual([]);
  });
});

describe('createDb on PGlite with a data directory', () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'reelgraph-pglite-'));
  });
  afterAll(() => rm(parent, { recursive: true, force: true }));

  it('creates the directory, and keeps the data across close and reopen', async () => {
    const dataDir = join(parent, 'not', 'yet', 'there');
    const first = await createDb({ kind: 'pglite', dataDir });
    await migrate(first);
    const { id } = await first.prisma.generation.create({ data: generation('kept') });
    await Promise.all([first.close(), first.close()]);
    await first.close();
    expect((await stat(join(dataDir, 'PG_VERSION'))).isFile()).toBe(true);

    const second = await createDb({ kind: 'pglite', dataDir });
    try {
      // Its own memory settings apply to a data directory made before them too (they are start parameters).
      expect(await second.query('SHOW shared_buffers')).toEqual([{ shared_buffers: '32MB' }]);
      expect(await migrate(second)).toEqual({ applied: [] });
      expect((await second.prisma.generation.findUniqueOrThrow({ where: { id } })).endpointId).toBe('e-kept');
    } finally {
      await second.close();
    }
  });
});

describe('createDb on PostgreSQL', () => {
  let pgdb: Awaited<ReturnType<typeof createTestPostgres>>;
  beforeAll(async () => {
    pgdb = await createTestPostgres({ poolSize: 3 });
  });
  afterAll(() => pgdb?.dispose());

  it('runs multi-statement SQL, parameterised queries and Prisma on one pool', async () => {
    const { db } = pgdb;
    await db.exec('CREATE TABLE scratch (n int); INSERT INTO scratch VALUES (1), (2), (3);');
    expect(await db.query<{ n: number }>('SELECT n FROM scratch WHERE n >= $1 ORDER BY n', [2])).toEqual([{ n: 2 }, { n: 3 }]);
    const created = await Promise.all(Array.from({ length: 20 }, (_, i) => db.prisma.generation.create({ data: generation(`pg${i}`) })));
    expect(new Set(created.map((g) => g.id)).size).toBe(20);
  });

  it('discards a session whose work failed, releasing its advisory locks with it', async () => {
    const { db, url } = pgdb;
    await expect(
      db.withSession(async (session) => {
        await session.query('SELECT pg_advisory_lock(4242)');
        throw new Error('failed while holding the lock');
      }),
    ).rejects.toThrow('failed while holding the lock');
    // Blocks until the server has ended that session; the test times out if the lock leaked.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(4242)');
    } finally {
      await other.end();
    }
  });

  it('closes idempotently, after which queries are refused', async () => {
    const db = await createDb({ kind: 'postgres', url: pgdb.url, poolSize: 1 });
    await db.query('SELECT 1');
    await Promise.all([db.close(), db.close()]);
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toThrow();
  });
});
