import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database, Session } from './index.ts';
import { errorMessage } from '../lib/errors.ts';

export interface MigrateOptions {
  /** A Prisma migrations folder (default: this checkout's prisma/migrations). */
  migrationsDir?: string;
  log?: (line: string) => void;
}

export interface MigrationFile {
  /** The folder name, e.g. `20261124000000_init`; what the ledger records as migration_name. */
  name: string;
  sql: string;
  checksum: string;
}

const DEFAULT_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
// The advisory lock key Prisma Migrate itself takes, so this runner and `prisma migrate deploy` exclude each other.
const LOCK_KEY = 72707369;

// The ledger exactly as Prisma's schema engine creates it (sql-schema-connector, postgres flavour), so
// `prisma migrate status` and `prisma migrate deploy` read and continue our history wherever the engine exists.
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

interface LedgerRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
}

/**
 * Applies, in name order, every migration folder the ledger has no live (not rolled back) row for, each in
 * its own transaction together with its ledger row: a migration is either fully applied and recorded, or
 * not at all. Instances starting at once queue on the advisory lock and read the ledger only once they hold
 * it, so each migration is applied exactly once.
 *
 * Like `prisma migrate deploy`: refuses while the ledger has a failed migration (finished_at and
 * rolled_back_at both NULL), refuses a non-empty schema that has no ledger (baseline it first), and ignores
 * ledger rows with no folder here (an older build starting against a newer database). Stricter than deploy:
 * a migration whose migration.sql no longer matches its recorded checksum is refused, as `prisma migrate dev`
 * would; history is changed by adding a migration, never by editing one.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => {});
  const migrations = await readMigrations(options.migrationsDir ?? DEFAULT_DIR);
  return db.withSession(async (session) => {
    const [{ locked }] = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [LOCK_KEY]);
    if (!locked) {
      log('waiting for another instance to finish migrating');
      await session.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    }
    let applied: string[];
    try {
      applied = await applyPending(session, migrations, log);
    } catch (error) {
      await session.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
      throw error;
    }
    await session.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    return { applied };
  });
}

async function applyPending(session: Session, migrations: MigrationFile[], log: (line: string) => void): Promise<string[]> {
  const [{ ledger }] = await session.query<{ ledger: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS ledger`);
  if (ledger === null) {
    const tables = await session.query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`,
    );
    if (tables.length > 0) {
      throw new Error(
        `refusing to migrate: schema "${await currentSchema(session)}" already has tables (${tables.map((t) => t.name).join(', ')}) ` +
          'but no _prisma_migrations table; use an empty database, or baseline it (prisma migrate resolve --applied)',
      );
    }
    await session.exec(LEDGER);
  }

  const rows = await session.query<LedgerRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at, logs FROM "_prisma_migrations" ORDER BY started_at',
  );
  const failed = rows.filter((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed.length > 0) {
    // Only `prisma migrate deploy` (or a hand edit) leaves such rows: this runner rolls a failed migration
    // back together with its row. Someone has to look at the database before anything else runs.
    const names = failed.map((row) => `${row.migration_name}${row.logs ? ` (${row.logs.trim()})` : ''}`).join('; ');
    throw new Error(`refusing to migrate: the database records failed migrations: ${names}; resolve them (prisma migrate resolve) first`);
  }
  const live = rows.filter((row) => row.rolled_back_at === null);

  const applied: string[] = [];
  for (const migration of migrations) {
    const recorded = live.filter((row) => row.migration_name === migration.name);
    if (recorded.length > 0) {
      if (!recorded.some((row) => matchesChecksum(migration.sql, row.checksum))) {
        throw new Error(
          `migration ${migration.name} was changed after it was applied (checksum ${migration.checksum} on disk, ` +
            `${recorded[0].checksum} in the database); restore it and add a new migration instead`,
        );
      }
      continue;
    }
    log(`applying migration ${migration.name}`);
    const started = performance.now();
    try {
      await session.transaction(async (tx) => {
        await tx.exec(migration.sql);
        // now() is the transaction's start, clock_timestamp() the moment the script finished.
        await tx.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
          [randomUUID(), migration.checksum, migration.name],
        );
      });
    } catch (error) {
      throw new Error(`migration ${migration.name} failed and was rolled back: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    log(`applied migration ${migration.name} in ${Math.round(performance.now() - started)} ms`);
    applied.push(migration.name);
  }
  return applied;
}

async function currentSchema(session: Session): Promise<string> {
  const [{ schema }] = await session.query<{ schema: string }>('SELECT current_schema() AS schema');
  return schema;
}

/** Reads a Prisma migrations folder: every subfolder's migration.sql, in name order (as Prisma sorts them). */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const lock = entries.some((e) => e.isFile() && e.name === 'migration_lock.toml')
    ? await readFile(join(dir, 'migration_lock.toml'), 'utf8')
    : null;
  const provider = lock && /^\s*provider\s*=\s*"([^"]*)"/m.exec(lock)?.[1];
  // Prisma refuses to apply a history written for another database (error P3019); so do we.
  if (provider && provider !== 'postgresql') {
    throw new Error(`${join(dir, 'migration_lock.toml')} says provider "${provider}"; these migrations are not for PostgreSQL`);
  }
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const file = join(dir, name, 'migration.sql');
      const sql = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new Error(`migration folder ${name} has no readable migration.sql (${error.code ?? error.message})`);
      });
      return { name, sql, checksum: migrationChecksum(sql) };
    }),
  );
}

/** What Prisma stores in _prisma_migrations.checksum: the SHA-256 of migration.sql, as 64 lowercase hex digits. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Prisma's comparison (schema-connector checksum.rs): a script matches if it, or it with CRLF turned into
 * LF or LF into CRLF, hashes to the recorded value, because git may rewrite line endings on checkout; and
 * very old Prisma versions stored the hex digits without zero padding.
 */
function matchesChecksum(sql: string, recorded: string): boolean {
  return [sql, sql.replaceAll('\r\n', '\n'), sql.replaceAll('\n', '\r\n')].some((variant) => {
    const digest = createHash('sha256').update(variant).digest();
    const hex = recorded.length === 64 ? digest.toString('hex') : [...digest].map((byte) => byte.toString(16)).join('');
    return hex === recorded;
  });
}

/**
 * Migration folders the ledger does not record as applied, in name order: empty when the schema is current
 * (what a health check wants to know). Read-only: takes no lock and creates nothing.
 */
export async function pendingMigrations(db: Database, migrationsDir = DEFAULT_DIR): Promise<string[]> {
  const migrations = await readMigrations(migrationsDir);
  const [{ ledger }] = await db.query<{ ledger: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS ledger`);
  const done =
    ledger === null
      ? []
      : await db.query<{ migration_name: string }>(
          'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
        );
  const applied = new Set(done.map((r) => r.migration_name));
  return migrations.map((m) => m.name).filter((name) => !applied.has(name));
}
