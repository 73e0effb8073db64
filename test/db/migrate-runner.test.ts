import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Database } from '../../src/db/index.ts';
import { migrationChecksum, pendingMigrations, readMigrations } from '../../src/db/migrate.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { actualCatalog, expectedCatalog } from './support/catalog.ts';
import { loadDatamodel } from './support/dmmf.ts';

// The semantics of migrate() itself, mostly on small throwaway migration folders: what it refuses, what it
// rolls back, and that concurrent callers apply each migration exactly once.

const realMigrations = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
const LOCK_KEY = 72707369; // Prisma Migrate's advisory lock key

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// Opening a PGlite costs over a second here (it runs initdb), so the PGlite tests share one instance and
// each gets a schema of its own: the runner works in current_schema(), as Prisma does.
let shared: Database;
beforeAll(async () => {
  shared = await createDb({ kind: 'pglite', dataDir: null });
});
afterAll(() => shared?.close());
let schemas = 0;
async function pglite(): Promise<Database> {
  await shared.exec(`CREATE SCHEMA test_${++schemas}; SET search_path TO test_${schemas}`);
  return shared;
}

/** A migrations folder holding the given migration.sql files (and Prisma's lock file). */
async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'reelgraph-migrations-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of Object.entries(files)) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

const ledger = (db: Database) =>
  db.query<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
    'SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name',
  );
const tableExists = async (db: Database, name: string) =>
  (await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`"${name}"`]))[0].t !== null;

describe('migrate()', () => {
  it('refuses a migration whose migration.sql changed after it was applied, naming it', async () => {
    const db = await pglite();
    const dir = await folder({ '1_a': 'CREATE TABLE "A" (id int);\n', '2_b': 'CREATE TABLE "B" (id int);\n' });
    await migrate(db, { migrationsDir: dir });
    await writeFile(join(dir, '1_a', 'migration.sql'), 'CREATE TABLE "A" (id bigint);\n');
    await expect(migrate(db, { migrationsDir: dir })).rejects.toThrow(/migration 1_a was changed after it was applied/);
  });

  it('accepts a migration whose only change is its line endings, as Prisma does (git may convert them)', async () => {
    const db = await pglite();
    const dir = await folder({ '1_a': 'CREATE TABLE "A" (id int);\nCREATE TABLE "B" (id int);\n' });
    await migrate(db, { migrationsDir: dir });
    await writeFile(join(dir, '1_a', 'migration.sql'), 'CREATE TABLE "A" (id int);\r\nCREATE TABLE "B" (id int);\r\n');
    expect(await migrate(db, { migrationsDir: dir })).toEqual({ applied: [] });
  });

  it('rolls a failing migration back with nothing recorded, and applies it once fixed', async () => {
    const db = await pglite();
    const dir = await folder({
      '1_a': 'CREATE TABLE "A" (id int);',
      '2_broken': 'CREATE TABLE "Half" (id int);\nSELECT no_such_function();',
    });
    await expect(migrate(db, { migrationsDir: dir })).rejects.toThrow(/migration 2_broken failed and was rolled back: .*no_such_function/);
    expect(await tableExists(db, 'Half')).toBe(false);
    expect((await ledger(db)).map((r) => r.migration_name)).toEqual(['1_a']);

    await writeFile(join(dir, '2_broken', 'migration.sql'), 'CREATE TABLE "Half" (id int);');
    expect(await migrate(db, { migrationsDir: dir })).toEqual({ applied: ['2_broken'] });
    expect(await tableExists(db, 'Half')).toBe(true);
  });

  it('refuses to run while the ledger records a failed migration (left by prisma migrate deploy)', async () => {
    const db = await pglite();
    const dir = await folder({ '1_a': 'CREATE TABLE "A" (id int);', '2_b': 'CREATE TABLE "B" (id int);' });
    await migrate(db, { migrationsDir: dir });
    await db.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, applied_steps_count) VALUES ($1, $2, '3_c', 'syntax error at "x"', 0)`,
      [randomUUID(), migrationChecksum('x')],
    );
    await expect(migrate(db, { migrationsDir: dir })).rejects.toThrow(/failed migrations: 3_c \(syntax error at "x"\)/);
  });

  it('applies a migration again once its failed or applied row was marked rolled back (prisma migrate resolve)', async () => {
    const db = await pglite();
    const dir = await folder({ '1_a': 'CREATE TABLE "A" (id int);' });
    await migrate(db, { migrationsDir: dir });
    await db.exec(`DROP TABLE "A"; UPDATE "_prisma_migrations" SET rolled_back_at = now()`);
    expect(await migrate(db, { migrationsDir: dir })).toEqual({ applied: ['1_a'] });
    expect(await tableExists(db, 'A')).toBe(true);
    expect((await ledger(db)).map((r) => [r.migration_name, r.rolled_back_at === null])).toEqual([
      ['1_a', false],
      ['1_a', true],
    ]);
  });

  it('refuses a schema that already has tables but no ledger, and ignores ledger rows it has no folder for', async () => {
    const db = await pglite();
    await db.exec('CREATE TABLE "Unrelated" (id int)');
    const dir = await folder({ '1_a': 'CREATE TABLE "A" (id int);' });
    await expect(migrate(db, { migrationsDir: dir })).rejects.toThrow(
      /schema "test_\d+" already has tables \(Unrelated\) but no _prisma_migrations table/,
    );

    // A newer build migrated this database further: an older build still starts.
    const newer = await pglite();
    await migrate(newer, { migrationsDir: await folder({ '1_a': 'CREATE TABLE "A" (id int);', '2_b': 'CREATE TABLE "B" (id int);' }) });
    expect(await migrate(newer, { migrationsDir: dir })).toEqual({ applied: [] });
  });

  it('refuses a migrations folder written for another database, and a folder without migration.sql', async () => {
    const db = await pglite();
    const sqlite = await folder({ '1_a': 'CREATE TABLE "A" (id int);' });
    await writeFile(join(sqlite, 'migration_lock.toml'), 'provider = "sqlite"\n');
    await expect(migrate(db, { migrationsDir: sqlite })).rejects.toThrow(/provider "sqlite"/);
    const empty = await folder({});
    await mkdir(join(empty, '1_empty'));
    await expect(migrate(db, { migrationsDir: empty })).rejects.toThrow(/1_empty has no readable migration.sql/);
  });

  it('lists pending migrations without changing anything, before and after migrating', async () => {
    const db = await pglite();
    const dir = await folder({ '1_a': 'CREATE TABLE "A" (id int);', '2_b': 'CREATE TABLE "B" (id int);' });
    expect(await pendingMigrations(db, dir)).toEqual(['1_a', '2_b']);
    expect(await tableExists(db, '_prisma_migrations')).toBe(false);
    await migrate(db, { migrationsDir: dir });
    expect(await pendingMigrations(db, dir)).toEqual([]);
    await mkdir(join(dir, '3_c'));
    await writeFile(join(dir, '3_c', 'migration.sql'), 'CREATE TABLE "C" (id int);');
    expect(await pendingMigrations(db, dir)).toEqual(['3_c']);
  });

  it('lets concurrent calls on one PGlite database take turns, so each migration is applied once', async () => {
    const db = await pglite();
    const results = await Promise.all([migrate(db), migrate(db), migrate(db)]);
    const names = (await readMigrations(realMigrations)).map((m) => m.name);
    expect(results.flatMap((r) => r.applied)).toEqual(names);
    expect((await ledger(db)).map((r) => r.migration_name)).toEqual(names);
  });

  it('has a catalog comparison that notices a migration drifting from schema.prisma', async () => {
    // The negative control for the schema-match tests in migrations.test.ts: the same comparison must fail.
    const db = await pglite();
    const dir = await mkdtemp(join(tmpdir(), 'reelgraph-migrations-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await cp(realMigrations, dir, { recursive: true });
    await mkdir(join(dir, '29991231000000_drift'));
    await writeFile(
      join(dir, '29991231000000_drift', 'migration.sql'),
      `DROP INDEX "Generation_status_idx";
       ALTER TABLE "VideoOutput" ALTER COLUMN "archiveAttempts" SET DEFAULT 1;
       ALTER TABLE "GenerationEvent" DROP CONSTRAINT "GenerationEvent_generationId_fkey",
         ADD CONSTRAINT "GenerationEvent_generationId_fkey" FOREIGN KEY ("generationId") REFERENCES "Generation"("id") ON DELETE RESTRICT ON UPDATE CASCADE;`,
    );
    await migrate(db, { migrationsDir: dir });
    const [actual, expected] = [await actualCatalog(db), expectedCatalog(await loadDatamodel())];
    const only = (a: string[], b: string[]) => a.filter((line) => !b.includes(line));
    expect(only(expected.indexes, actual.indexes)).toEqual(['Generation.Generation_status_idx INDEX USING btree (status)']);
    expect(only(actual.columns, expected.columns)).toEqual(['VideoOutput.archiveAttempts int4 NOT NULL default 1']);
    expect(only(actual.constraints, expected.constraints)).toEqual([
      expect.stringMatching(/GenerationEvent_generationId_fkey .* ON DELETE RESTRICT/),
    ]);
  });
});

describe('migrate() on PostgreSQL', () => {
  let temp: Awaited<ReturnType<typeof createTempPostgresDatabase>>;
  beforeAll(async () => {
    temp = await createTempPostgresDatabase();
  });
  afterAll(() => temp?.drop());

  it('waits while another session (e.g. prisma migrate deploy) holds the migration lock', async () => {
    const holder = new pg.Client({ connectionString: temp.url });
    await holder.connect();
    cleanups.push(() => holder.end());
    const db = await createDb({ kind: 'postgres', url: temp.url, poolSize: 2 });
    cleanups.push(() => db.close());

    await holder.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    let reportWaiting!: () => void;
    const waiting = new Promise<void>((resolve) => (reportWaiting = resolve));
    const run = migrate(db, { log: (line) => line.startsWith('waiting') && reportWaiting() });
    await waiting;
    expect((await holder.query(`SELECT to_regclass('"_prisma_migrations"') AS t`)).rows[0].t).toBeNull();
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    expect((await run).applied).toEqual((await readMigrations(realMigrations)).map((m) => m.name));
  });

  it('applies each migration exactly once when several instances start at the same moment', async () => {
    const fresh = await createTempPostgresDatabase();
    cleanups.push(() => fresh.drop());
    const instances = await Promise.all([1, 2, 3, 4].map(() => createDb({ kind: 'postgres', url: fresh.url, poolSize: 2 })));
    cleanups.push(async () => void (await Promise.all(instances.map((db) => db.close()))));

    const results = await Promise.all(instances.map((db) => migrate(db)));
    const names = (await readMigrations(realMigrations)).map((m) => m.name);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(names);
    const rows = await instances[0].query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations" ORDER BY 1');
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    // And none of them left the lock behind.
    expect(await instances[0].query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1`, [LOCK_KEY])).toEqual([]);
  });
});
