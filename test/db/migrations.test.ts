import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Database } from '../../src/db/index.ts';
import { readMigrations, type MigrationFile } from '../../src/db/migrate.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { actualCatalog, expectedCatalog } from './support/catalog.ts';
import { columnsOf, loadDatamodel, type DmmfDatamodel, type DmmfField, type DmmfModel } from './support/dmmf.ts';

// Proves that a database built by prisma/migrations alone is the database schema.prisma describes, on both
// backends: the catalog matches what Prisma Migrate would create, and every model and field round-trips
// through the generated client. What is expected comes from Prisma's own DMMF of schema.prisma, so a field
// added to the schema without a migration (or the reverse) fails here.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let dm: DmmfDatamodel;
let migrations: MigrationFile[];
beforeAll(async () => {
  [dm, migrations] = await Promise.all([
    loadDatamodel(),
    readMigrations(fileURLToPath(new URL('../../prisma/migrations', import.meta.url))),
  ]);
});

const backends = [
  { name: 'PGlite', open: async () => ({ db: await createDb({ kind: 'pglite', dataDir: null }), drop: async () => {} }) },
  {
    name: 'PostgreSQL 15',
    open: async () => {
      const temp = await createTempPostgresDatabase();
      return { db: await createDb({ kind: 'postgres', url: temp.url, poolSize: 4 }), drop: () => temp.drop() };
    },
  },
];

describe.each(backends)('a database migrated from empty on $name', (backend) => {
  let db: Database;
  let drop: () => Promise<void>;
  let firstRun: { applied: string[] };
  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    firstRun = await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it('applied every migration folder, in name order, and recorded each as Prisma Migrate does', async () => {
    expect(firstRun.applied).toEqual(migrations.map((m) => m.name));
    const ledger = await db.query<Record<string, unknown>>('SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    expect(ledger.map(({ id: _id, started_at: _started, finished_at: _finished, ...rest }) => rest)).toEqual(
      migrations.map((m) => ({
        migration_name: m.name,
        checksum: sha256(m.sql),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      })),
    );
    // The table exactly as Prisma's schema engine creates it (sql-schema-connector, postgres flavour).
    const columns = await db.query<{ c: string }>(
      `SELECT column_name || ' ' || udt_name || coalesce('(' || character_maximum_length || ')', '') || ' ' || is_nullable || ' ' || coalesce(column_default, '-') AS c
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns.map((r) => r.c)).toEqual([
      'id varchar(36) NO -',
      'checksum varchar(64) NO -',
      'finished_at timestamptz YES -',
      'migration_name varchar(255) NO -',
      'logs text YES -',
      'rolled_back_at timestamptz YES -',
      'started_at timestamptz NO now()',
      'applied_steps_count int4 NO 0',
    ]);
    for (const row of ledger) {
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
    }
  });

  it('applies nothing the second time', async () => {
    expect(await migrate(db)).toEqual({ applied: [] });
    expect((await db.query('SELECT 1 FROM "_prisma_migrations"')).length).toBe(migrations.length);
  });

  it('has exactly the tables, columns, defaults, enums, indexes and constraints Prisma Migrate would create', async () => {
    expect(await actualCatalog(db)).toEqual(expectedCatalog(dm));
  });

  it('round-trips every field of every model through the generated client', async () => {
    for (const variant of ['every field set', 'only what is required'] as const) {
      const created: Record<string, Record<string, unknown>> = {};
      for (const model of parentsFirst(dm.models)) {
        const links = linksTo(model, created);
        const data = variant === 'every field set' ? fullRow(model, links) : minimalRow(model, links);
        const before = new Date();
        const row = await delegate(db, model).create({ data });
        const read = await delegate(db, model).findFirstOrThrow({ where: primaryKeyOf(model, row) });
        expect(read).toEqual(row);
        if (variant === 'every field set') {
          expect(read).toEqual(data);
        } else {
          for (const field of columnsOf(model))
            expect(read[field.name], `${model.name}.${field.name}`).toEqual(expectedUnset(field, data, read, before));
        }
        created[model.name] = read;
      }
    }
  });

  it('rejects a duplicate falRequestId, idempotency key or event sequence, and a dangling event (P2002, P2003)', async () => {
    const { prisma } = db;
    const base = {
      backend: 'FAL',
      endpointId: 'e',
      imageUrl: 'i',
      duration: 5,
      generateAudio: false,
      shotType: 'customize',
      falInput: {},
    } as const;
    const first = await prisma.generation.create({ data: { ...base, falRequestId: 'req-dup', idempotencyKey: 'k' } });
    await expect(prisma.generation.create({ data: { ...base, falRequestId: 'req-dup' } })).rejects.toMatchObject({
      code: 'P2002',
      meta: { modelName: 'Generation' },
    });
    // (tenantId, idempotencyKey) is unique; other tenants may reuse a key, and any number of rows may have none.
    await expect(prisma.generation.create({ data: { ...base, idempotencyKey: 'k' } })).rejects.toMatchObject({ code: 'P2002' });
    await prisma.generation.create({ data: { ...base, idempotencyKey: 'k', tenantId: 'other' } });
    await prisma.generation.createMany({ data: [base, base] });

    await prisma.generationEvent.create({ data: { generationId: first.id, sequence: 1, kind: 'LOG' } });
    await expect(prisma.generationEvent.create({ data: { generationId: first.id, sequence: 1, kind: 'STATUS' } })).rejects.toMatchObject({
      code: 'P2002',
    });
    await expect(prisma.generationEvent.create({ data: { generationId: randomUUID(), sequence: 1, kind: 'LOG' } })).rejects.toMatchObject({
      code: 'P2003',
    });
  });

  it("deletes a generation's events and video with it", async () => {
    const { prisma } = db;
    const generation = await prisma.generation.create({
      data: {
        backend: 'SIMULATOR',
        endpointId: 'e',
        imageUrl: 'i',
        duration: 5,
        generateAudio: true,
        shotType: 'customize',
        falInput: {},
        events: {
          create: [
            { sequence: 1, kind: 'STATUS', status: 'IN_QUEUE' },
            { sequence: 2, kind: 'LOG', logMessage: 'm' },
          ],
        },
        video: { create: { sourceUrl: 'https://v.test/o.mp4' } },
      },
    });
    expect(await prisma.generationEvent.count({ where: { generationId: generation.id } })).toBe(2);
    await prisma.generation.delete({ where: { id: generation.id } });
    expect(await prisma.generationEvent.count({ where: { generationId: generation.id } })).toBe(0);
    expect(await prisma.videoOutput.count({ where: { generationId: generation.id } })).toBe(0);
  });

  it('leaves @default(uuid(7)) and @updatedAt to Prisma Client: the database has no default for the id', async () => {
    await expect(
      db.exec(`INSERT INTO "Generation" ("backend", "endpointId", "imageUrl", "duration", "generateAudio", "shotType", "falInput")
               VALUES ('FAL', 'e', 'i', 5, false, 's', '{}')`),
    ).rejects.toThrow(/null value in column "id"/);
    const created = await db.prisma.generation.create({
      data: {
        backend: 'FAL',
        endpointId: 'e',
        imageUrl: 'i',
        duration: 5,
        generateAudio: false,
        shotType: 's',
        falInput: {},
        updatedAt: new Date(0),
      },
    });
    const updated = await db.prisma.generation.update({ where: { id: created.id }, data: { prompt: 'p' } });
    expect(updated.updatedAt.getTime()).toBeGreaterThan(0);
  });
});

// ---- generic rows for any model, driven by the DMMF ----

interface Delegate {
  create(args: { data: Record<string, unknown> }): Promise<Record<string, unknown>>;
  findFirstOrThrow(args: { where: Record<string, unknown> }): Promise<Record<string, unknown>>;
}
const delegate = (db: Database, model: DmmfModel) =>
  (db.prisma as unknown as Record<string, Delegate>)[model.name[0].toLowerCase() + model.name.slice(1)];

/** Models ordered so that every model comes after the models its foreign keys point at. */
function parentsFirst(models: DmmfModel[]): DmmfModel[] {
  const ordered: DmmfModel[] = [];
  while (ordered.length < models.length) {
    const ready = models.filter(
      (m) =>
        !ordered.includes(m) &&
        m.fields.every((f) => !f.relationFromFields?.length || f.type === m.name || ordered.some((o) => o.name === f.type)),
    );
    if (ready.length === 0) throw new Error('cyclic required relations: teach parentsFirst about them');
    ordered.push(...ready);
  }
  return ordered;
}

/** Foreign key values pointing at the rows created for the referenced models. */
function linksTo(model: DmmfModel, created: Record<string, Record<string, unknown>>): Record<string, unknown> {
  const links: Record<string, unknown> = {};
  for (const relation of model.fields.filter((f) => f.relationFromFields?.length && f.type !== model.name)) {
    relation.relationFromFields!.forEach((from, i) => (links[from] = created[relation.type][relation.relationToFields![i]]));
  }
  return links;
}

const primaryKeyOf = (model: DmmfModel, row: Record<string, unknown>) => {
  const fields = dm.indexes.find((i) => i.model === model.name && i.type === 'id')!.fields.map((f) => f.name);
  return Object.fromEntries(fields.map((name) => [name, row[name]]));
};

let counter = 0;
/** A value for every column, none null and none equal to its default, with the awkward cases of each type. */
function fullRow(model: DmmfModel, links: Record<string, unknown>): Record<string, unknown> {
  const n = ++counter;
  return Object.fromEntries(columnsOf(model).map((f) => [f.name, f.name in links ? links[f.name] : sampleValue(f, n)]));
}

function sampleValue(field: DmmfField, n: number): unknown {
  if (field.isList && field.kind === 'enum') {
    // Every value but one, starting at a different one each time (order kept, as PostgreSQL arrays do).
    const values = dm.enums.find((e) => e.name === field.type)!.values.map((v) => v.name);
    return [...values.slice(n % values.length), ...values.slice(0, n % values.length)].slice(1);
  }
  if (field.isList) throw new Error(`teach the round-trip test list values (${field.name})`);
  if (field.kind === 'enum') {
    const others = dm.enums
      .find((e) => e.name === field.type)!
      .values.map((v) => v.name)
      .filter((v) => v !== field.default);
    return others[n % others.length];
  }
  switch (field.type) {
    case 'String':
      return field.nativeType?.[0] === 'Uuid' ? randomUUID() : `${field.name} #${n}: ünïcödé ✓ 'single' "double" \\ \n line`;
    case 'Int':
      return n % 2 ? 2_147_483_647 : -2_147_483_648; // the int4 range, both ends
    case 'Boolean':
      return field.default === true ? false : true;
    case 'DateTime':
      return new Date(Date.UTC(2026, 10, 24, 10, 0, 0, 100 + n)); // millisecond precision, TIMESTAMP(3)
    case 'Json':
      return {
        n,
        text: 'ünïcödé ✓',
        list: [1, 2.5, -3, 1e-7, true, false, null, 'x', [], {}],
        big: '17454220438242315174',
        nested: { deep: [{ a: null }] },
      };
    default:
      throw new Error(`teach the round-trip test a value for ${field.type} (${field.name})`);
  }
}

/** Only required fields that have no default. */
function minimalRow(model: DmmfModel, links: Record<string, unknown>): Record<string, unknown> {
  const n = ++counter;
  const needed = columnsOf(model).filter((f) => f.isRequired && !f.hasDefaultValue && !f.isUpdatedAt);
  return Object.fromEntries(needed.map((f) => [f.name, f.name in links ? links[f.name] : sampleValue(f, n)]));
}

/** What a field left out of create() reads back as: null, its literal default, or a value made at insert. */
function expectedUnset(field: DmmfField, data: Record<string, unknown>, read: Record<string, unknown>, before: Date): unknown {
  if (field.name in data) return data[field.name];
  const value = field.default;
  if (value === undefined && !field.isUpdatedAt) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  const fn = (value as { name?: string } | undefined)?.name;
  if (fn === 'uuid') return expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  if (fn === 'now' || field.isUpdatedAt) {
    // Set by the database or the client during create(); stored with millisecond precision.
    const at = read[field.name] as Date;
    expect(at.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    expect(at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    return at;
  }
  throw new Error(`teach the round-trip test the default of ${field.name}: ${JSON.stringify(value)}`);
}
