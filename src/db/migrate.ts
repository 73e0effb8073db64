import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from './index.ts';

export interface MigrateOptions {
  migrationsDir?: string;
  log?: (line: string) => void;
}

const DEFAULT_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
// The advisory lock key Prisma Migrate itself uses, so our runner and `prisma migrate deploy` exclude each other.
const LOCK_KEY = 72707369;

// The ledger exactly as Prisma Migrate creates it, so `prisma migrate status` and `deploy` agree with us
// wherever the schema engine can be downloaded.
const LEDGER = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/**
 * Applies every migration folder under prisma/migrations that the ledger has not recorded, in name order,
 * each in its own transaction. Several instances starting at once serialise on an advisory lock, and the
 * ledger is re-read under the lock, so each migration is applied exactly once.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const dir = options.migrationsDir ?? DEFAULT_DIR;
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const migrations = await Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );

  return db.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await session.exec(LEDGER);
      const done = await session.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
      );
      const recorded = new Map(done.map((row) => [row.migration_name, row]));
      const applied: string[] = [];
      for (const migration of migrations) {
        const row = recorded.get(migration.name);
        if (row) {
          if (!row.finished_at) {
            throw new Error(`migration ${migration.name} started earlier but never finished; resolve it before starting again`);
          }
          if (row.checksum !== migration.checksum) {
            throw new Error(`migration ${migration.name} was changed after it was applied (checksum mismatch); add a new migration instead`);
          }
          continue;
        }
        options.log?.(`applying migration ${migration.name}`);
        const id = randomUUID();
        await session.exec('BEGIN');
        try {
          await session.exec(migration.sql);
          await session.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
             VALUES ($1, $2, $3, now(), now(), 1)`,
            [id, migration.checksum, migration.name],
          );
          await session.exec('COMMIT');
        } catch (error) {
          await session.exec('ROLLBACK');
          throw new Error(`migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        applied.push(migration.name);
      }
      return { applied };
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  });
}
