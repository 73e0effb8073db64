import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Database } from '../../src/db/index.ts';
import * as enums from '../../src/db/generated/enums.ts';
import { getDatamodel } from '../../src/db/generated/pothos-types.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';

const schemaText = await readFile(fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url)), 'utf8');
const models = getDatamodel().datamodel.models;

/** What each Prisma scalar type becomes in PostgreSQL (udt_name), per Prisma's defaults and our @db hints. */
const expectedUdt = (model: string, field: { name: string; type: string; kind: string }): string => {
  if (field.kind === 'enum') return field.type;
  const line = new RegExp(`^\\s*${field.name}\\s+\\S+.*$`, 'm').exec(modelBlock(model))?.[0] ?? '';
  if (line.includes('@db.Uuid')) return 'uuid';
  return { String: 'text', Int: 'int4', Boolean: 'bool', DateTime: 'timestamp', Json: 'jsonb' }[field.type] ?? field.type;
};
const modelBlock = (model: string) => new RegExp(`model ${model} \\{([\\s\\S]*?)\\n\\}`).exec(schemaText)?.[1] ?? '';

type Backend = { name: string; open(): Promise<{ db: Database; dispose(): Promise<void> }> };
const backends: Backend[] = [
  {
    name: 'PGlite',
    open: async () => {
      const db = await createDb({ kind: 'pglite', dataDir: null });
      return { db, dispose: () => db.close() };
    },
  },
  {
    name: 'PostgreSQL',
    open: async () => {
      const temp = await createTempPostgresDatabase();
      const db = await createDb({ kind: 'postgres', url: temp.url, poolSize: 4 });
      return {
        db,
        dispose: async () => {
          await db.close();
          await temp.drop();
        },
      };
    },
  },
];

describe.each(backends)('migrations on $name', (backend) => {
  let db: Database;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ db, dispose } = await backend.open());
    const first = await migrate(db);
    expect(first.applied.length).toBeGreaterThan(0);
  });
  afterAll(() => dispose?.());

  it('applies nothing the second time', async () => {
    expect(await migrate(db)).toEqual({ applied: [] });
    const ledger = await db.query<{ migration_name: string; finished_at: Date | null; checksum: string }>(
      'SELECT migration_name, finished_at, checksum FROM "_prisma_migrations" ORDER BY migration_name',
    );
    expect(ledger.every((row) => row.finished_at !== null && /^[0-9a-f]{64}$/.test(row.checksum))).toBe(true);
  });

  it('creates exactly the tables, columns, types and nullability schema.prisma declares', async () => {
    const columns = await db.query<{ table_name: string; column_name: string; udt_name: string; is_nullable: string }>(
      `SELECT table_name, column_name, udt_name, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
    );
    const actual = columns.map((c) => `${c.table_name}.${c.column_name}:${c.udt_name}:${c.is_nullable === 'NO' ? 'required' : 'optional'}`).sort();
    const expected = Object.entries(models)
      .flatMap(([model, { fields }]) =>
        fields
          .filter((f) => f.kind !== 'object')
          .map((f) => `${model}.${f.name}:${expectedUdt(model, f)}:${f.isRequired ? 'required' : 'optional'}`),
      )
      .sort();
    expect(actual).toEqual(expected);
  });

  it('creates the enums with the generated client\'s values', async () => {
    const rows = await db.query<{ typname: string; enumlabel: string }>(
      `SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid ORDER BY t.typname, e.enumsortorder`,
    );
    const actual: Record<string, string[]> = {};
    for (const row of rows) (actual[row.typname] ??= []).push(row.enumlabel);
    const expected = Object.fromEntries(
      Object.entries(enums)
        .filter(([, v]) => typeof v === 'object' && v !== null)
        .map(([name, values]) => [name, Object.values(values as Record<string, string>)]),
    );
    expect(actual).toEqual(expected);
  });

  it('creates the primary keys, unique constraints and indexes schema.prisma declares', async () => {
    const indexes = await db.query<{ tablename: string; indexdef: string }>(
      `SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`,
    );
    const shape = (def: string) => {
      const unique = def.startsWith('CREATE UNIQUE');
      const cols = /\((.*)\)$/.exec(def)![1].replace(/"/g, '').replace(/\s+/g, ' ');
      return `${unique ? 'unique' : 'index'}(${cols})`;
    };
    const actual = indexes.map((i) => `${i.tablename}:${shape(i.indexdef)}`).sort();

    const expected: string[] = [];
    for (const [model, { fields, primaryKey }] of Object.entries(models)) {
      const pk = primaryKey?.fields ?? fields.filter((f) => f.isId).map((f) => f.name);
      expected.push(`${model}:unique(${pk.join(', ')})`);
      for (const f of fields.filter((f) => f.isUnique)) expected.push(`${model}:unique(${f.name})`);
      for (const match of modelBlock(model).matchAll(/@@(index|unique)\(\[(.*?)\]\)/g)) {
        const cols = match[2].split(',').map((c) => {
          const [, name, desc] = /(\w+)(\(sort: Desc\))?/.exec(c.trim())!;
          return desc ? `${name} DESC` : name;
        });
        expected.push(`${model}:${match[1]}(${cols.join(', ')})`);
      }
    }
    expect(actual).toEqual(expected.sort());
  });

  it('round-trips every field through the generated client, and enforces keys and cascades', async () => {
    const prisma = db.prisma;
    const now = new Date('2026-11-24T10:00:00.123Z');
    const full = {
      tenantId: 'acme',
      status: 'IN_PROGRESS' as const,
      backend: 'FAL' as const,
      endpointId: 'fal-ai/kling-video/o3/standard/image-to-video',
      falRequestId: `req-${backend.name}`,
      queuePosition: 3,
      imageUrl: 'https://example.com/a.png',
      endImageUrl: 'https://example.com/b.png',
      prompt: 'a prompt with ünïcode ✓',
      multiPrompt: [{ prompt: 'shot', duration: 2 }],
      duration: 7,
      generateAudio: true,
      shotType: 'intelligent',
      falInput: { image_url: 'https://example.com/a.png', nested: { big: '17454220438242315174' } },
      lastSequence: 2,
      errorCode: 'X',
      errorMessage: 'y',
      idempotencyKey: 'key-1',
      idempotencyHash: 'a'.repeat(64),
      cancelRequestedAt: now,
      deadlineAt: now,
      leaseOwner: 'instance-1',
      leaseExpiresAt: now,
      createdAt: now,
      updatedAt: now,
      startedAt: now,
      completedAt: now,
    };
    const created = await prisma.generation.create({ data: full });
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    const read = await prisma.generation.findUniqueOrThrow({ where: { id: created.id } });
    expect(read).toEqual({ ...full, id: created.id });

    const minimal = await prisma.generation.create({
      data: { backend: 'SIMULATOR', endpointId: 'e', imageUrl: 'i', duration: 5, generateAudio: false, shotType: 'customize', falInput: {} },
    });
    expect(minimal).toMatchObject({ tenantId: 'default', status: 'PENDING', lastSequence: 0, falRequestId: null, multiPrompt: null, startedAt: null, idempotencyKey: null });
    // The idempotency key is unique per tenant, and any number of rows may have none.
    await expect(prisma.generation.create({ data: { ...full, falRequestId: null } })).rejects.toMatchObject({ code: 'P2002' });
    await prisma.generation.create({ data: { ...full, falRequestId: null, tenantId: 'other' } });
    await prisma.generation.create({ data: { ...full, falRequestId: null, idempotencyKey: null } });
    await prisma.generation.create({ data: { ...full, falRequestId: null, idempotencyKey: null } });

    await prisma.generationEvent.create({
      data: { generationId: created.id, sequence: 1, kind: 'LOG', logMessage: 'm', logLevel: 'INFO', logTimestamp: now, createdAt: now },
    });
    await prisma.generationEvent.create({ data: { generationId: created.id, sequence: 2, kind: 'STATUS', status: 'IN_QUEUE', queuePosition: 0 } });
    expect(await prisma.generationEvent.findUniqueOrThrow({ where: { generationId_sequence: { generationId: created.id, sequence: 1 } } })).toEqual({
      generationId: created.id,
      sequence: 1,
      kind: 'LOG',
      status: null,
      queuePosition: null,
      logMessage: 'm',
      logLevel: 'INFO',
      logTimestamp: now,
      createdAt: now,
    });
    const video = {
      generationId: created.id,
      sourceUrl: 'https://v.test/o.mp4',
      contentType: 'video/mp4',
      fileName: 'o.mp4',
      fileSize: 12037975,
      createdAt: now,
      archiveStatus: 'ARCHIVED' as const,
      archivePath: '/data/videos/x.mp4',
      archiveSha256: 'b'.repeat(64),
      archiveSize: 12037975,
      archiveAttempts: 2,
      archiveError: null,
      nextArchiveAt: null,
      archivedAt: now,
    };
    await prisma.videoOutput.create({ data: video });
    expect(await prisma.videoOutput.findUniqueOrThrow({ where: { generationId: created.id } })).toEqual(video);

    await expect(
      prisma.generation.create({ data: { ...full, idempotencyKey: null, createdAt: undefined, updatedAt: undefined } }),
    ).rejects.toMatchObject({ code: 'P2002' });
    await expect(
      prisma.generationEvent.create({ data: { generationId: created.id, sequence: 1, kind: 'LOG' } }),
    ).rejects.toMatchObject({ code: 'P2002' });
    await expect(
      prisma.generationEvent.create({ data: { generationId: '00000000-0000-7000-8000-000000000000', sequence: 1, kind: 'LOG' } }),
    ).rejects.toMatchObject({ code: 'P2003' });

    await prisma.generation.delete({ where: { id: created.id } });
    expect(await prisma.generationEvent.count({ where: { generationId: created.id } })).toBe(0);
    expect(await prisma.videoOutput.count({ where: { generationId: created.id } })).toBe(0);
  });
});

describe('the migration runner', () => {
  it('refuses a migration whose file changed after it was applied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reelgraph-migrations-'));
    const db = await createDb({ kind: 'pglite', dataDir: null });
    try {
      await cp(fileURLToPath(new URL('../../prisma/migrations', import.meta.url)), dir, { recursive: true });
      await migrate(db, { migrationsDir: dir });
      const [name] = (await db.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"')).map((r) => r.migration_name);
      await writeFile(join(dir, name, 'migration.sql'), `${await readFile(join(dir, name, 'migration.sql'), 'utf8')}\n-- edited\n`);
      await expect(migrate(db, { migrationsDir: dir })).rejects.toThrow(/changed after it was applied/);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rolls a failing migration back and records nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reelgraph-migrations-'));
    const db = await createDb({ kind: 'pglite', dataDir: null });
    try {
      await cp(fileURLToPath(new URL('../../prisma/migrations', import.meta.url)), dir, { recursive: true });
      await cp(join(dir, '20261124000000_init'), join(dir, '29990101000000_broken'), { recursive: true });
      await writeFile(join(dir, '29990101000000_broken', 'migration.sql'), 'CREATE TABLE "Half" (id int);\nSELECT no_such_function();\n');
      await expect(migrate(db, { migrationsDir: dir })).rejects.toThrow(/29990101000000_broken failed/);
      expect(await db.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'Half'`)).toEqual([]);
      const real = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.includes('broken'));
      expect((await db.query('SELECT migration_name FROM "_prisma_migrations"')).length).toBe(real.length);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('applies each migration exactly once when several instances start at the same time (PostgreSQL)', async () => {
    const temp = await createTempPostgresDatabase();
    const dbs = await Promise.all([1, 2, 3].map(() => createDb({ kind: 'postgres', url: temp.url, poolSize: 2 })));
    try {
      const results = await Promise.all(dbs.map((db) => migrate(db)));
      const applied = results.flatMap((r) => r.applied);
      const ledger = await dbs[0].query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"');
      expect(applied.sort()).toEqual(ledger.map((r) => r.migration_name).sort());
      expect(new Set(applied).size).toBe(applied.length);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await temp.drop();
    }
  });
});
