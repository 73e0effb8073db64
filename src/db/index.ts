import type { PrismaClient } from './generated/client.ts';

export { migrate, pendingMigrations, type MigrateOptions } from './migrate.ts';
export { Prisma, PrismaClient } from './generated/client.ts';
export type { Generation, GenerationEvent, VideoOutput } from './generated/client.ts';
// Each enum is both a value (`GenerationStatus.COMPLETED`) and a type (the union of its values).
export { ArchiveStatus, FalBackend, GenerationEventKind, GenerationStatus } from './generated/enums.ts';

export type DatabaseOptions =
  | { kind: 'pglite'; /** null keeps the database in memory (tests); a directory is created if missing. */ dataDir: string | null }
  | { kind: 'postgres'; url: string; /** most connections the pool opens (default 10) */ poolSize?: number };

/** Raw SQL outside Prisma, for migrations and for tests that inspect the catalog. */
export interface SqlSession {
  /** Runs raw SQL that may hold several statements (simple query protocol; no parameters). */
  exec(sql: string): Promise<void>;
  /** Runs one statement with $1, $2... parameters and returns its rows (default pg/PGlite type parsing). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** One connection held for a while, so session state (advisory locks, a transaction) stays on it. */
export interface Session extends SqlSession {
  /** BEGIN, fn, COMMIT; ROLLBACK and rethrow if fn throws. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
}

export interface Database extends SqlSession {
  readonly prisma: PrismaClient;
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs fn on one dedicated connection (PostgreSQL) or exclusively on the single PGlite session. The
   * connection is discarded, not reused, if fn throws: whatever state it was left in goes with it.
   */
  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /** Disconnects Prisma and releases the pool or the PGlite instance. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the database: PGlite (PostgreSQL compiled to WebAssembly, in this process) or a PostgreSQL server
 * through a bounded pg pool. Both speak the same SQL, so one schema and one migration history serve both.
 * Does not migrate: call migrate(db) once before serving.
 */
export async function createDb(options: DatabaseOptions): Promise<Database> {
  // Each driver is loaded only when chosen: a PostgreSQL process never loads PGlite (and its Prisma adapter), and
  // an embedded one never loads pg's pool.
  if (options.kind === 'pglite') return (await import('./pglite.ts')).openPglite(options.dataDir);
  return (await import('./postgres.ts')).openPostgres(options.url, options.poolSize ?? 10);
}
