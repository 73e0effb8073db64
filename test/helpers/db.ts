import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, migrate, type Database } from '../../src/db/index.ts';

/** The PostgreSQL these machines run (see ../shared/reference/environment.md); override with TEST_POSTGRES_URL. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A fresh, migrated, in-memory PGlite database. Close it with `db.close()`. */
export async function createTestPglite(): Promise<Database> {
  const db = await createDb({ kind: 'pglite', dataDir: null });
  await migrate(db);
  return db;
}

/**
 * A uniquely named, empty database on the local PostgreSQL server, dropped again by drop(). Every test run
 * makes its own, so runs (and CI on a machine a session left behind) never see each other's rows.
 */
export async function createTempPostgresDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `reelgraph_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
