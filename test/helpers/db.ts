import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, migrate, type Database } from '../../src/db/index.ts';

/**
 * Databases for tests. Every test file gets its own: an in-memory PGlite (fast, the default), or a
 * uniquely named database on the machines' PostgreSQL 15 when the test is about PostgreSQL itself.
 *
 *   const db = await createTestPglite();              afterAll(() => db.close());
 *   const pgdb = await createTestPostgres();          afterAll(() => pgdb.dispose());
 *   const temp = await createTempPostgresDatabase();  afterAll(() => temp.drop());   // empty, unmigrated
 *   ({ db, dispose } = await createTestDatabase());   afterAll(() => dispose?.());      // PGlite, or PostgreSQL per TEST_DATABASE
 */

/** Where the test PostgreSQL is (trust auth, see shared/reference/environment.md); TEST_POSTGRES_URL overrides. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

const PREFIX = 'reelgraph_test_';
// A run that crashed before its afterAll leaves its database behind; the next run drops those older than this.
const STALE_AFTER_MS = 6 * 60 * 60 * 1000;

/** A fresh in-memory PGlite database with every migration applied. Close it with `db.close()`. */
export async function createTestPglite(): Promise<Database> {
  const db = await createDb({ kind: 'pglite', dataDir: null });
  try {
    await migrate(db);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

export interface TempPostgresDatabase {
  /** postgresql://... of the new database */
  url: string;
  name: string;
  /** Drops the database, disconnecting anyone still on it. Idempotent. */
  drop(): Promise<void>;
}

/**
 * A new, empty database on the local PostgreSQL, named reelgraph_test_<created, base 36>_<random>, so test
 * files (and CI runs on a machine a session left behind) never see each other's rows.
 */
export async function createTempPostgresDatabase(): Promise<TempPostgresDatabase> {
  const name = `${PREFIX}${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;
  await withAdmin(async (admin) => {
    await dropStaleDatabases(admin);
    await admin.query(`CREATE DATABASE "${name}"`);
  });
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop() {
      dropping ??= withAdmin(async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
      return dropping;
    },
  };
}

/** A migrated temporary PostgreSQL database and a Database (pool) on it; dispose() closes and drops both. */
export async function createTestPostgres(
  options: { poolSize?: number } = {},
): Promise<{ db: Database; url: string; dispose(): Promise<void> }> {
  const temp = await createTempPostgresDatabase();
  const db = await createDb({ kind: 'postgres', url: temp.url, poolSize: options.poolSize ?? 4 });
  const dispose = async () => {
    await db.close();
    await temp.drop();
  };
  try {
    await migrate(db);
  } catch (error) {
    await dispose();
    throw error;
  }
  return { db, url: temp.url, dispose };
}

/** A migrated database and how to release it, whichever backend TEST_DATABASE chose. */
export interface TestDatabase {
  db: Database;
  /** Closes the database and, on PostgreSQL, drops it. A property, not a method: tests hold it on its own. */
  dispose: () => Promise<void>;
}

/**
 * A migrated database for a test that runs on either backend: an in-memory PGlite by default, or a fresh
 * temporary PostgreSQL database (dropped by dispose) when TEST_DATABASE=postgres, as startTestServer chooses.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (process.env.TEST_DATABASE === 'postgres') {
    const pg = await createTestPostgres();
    return { db: pg.db, dispose: () => pg.dispose() };
  }
  const db = await createTestPglite();
  return { db, dispose: () => db.close() };
}

async function withAdmin<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

async function dropStaleDatabases(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}%'`);
  for (const { datname } of rows) {
    const created = parseInt(datname.slice(PREFIX.length).split('_')[0], 36);
    if (Number.isFinite(created) && Date.now() - created > STALE_AFTER_MS) {
      // Best effort: another run may be dropping the same leftover right now.
      await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => {});
    }
  }
}
