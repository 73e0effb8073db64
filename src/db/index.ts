import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from './generated/client.ts';

export { migrate, type MigrateOptions } from './migrate.ts';
export { Prisma, PrismaClient } from './generated/client.ts';
export type { FalBackend, GenerationEventKind, GenerationStatus } from './generated/enums.ts';
export type { Generation, GenerationEvent, VideoOutput } from './generated/client.ts';

export type DatabaseOptions =
  | { kind: 'pglite'; /** null keeps the database in memory (tests). */ dataDir: string | null }
  | { kind: 'postgres'; url: string; poolSize?: number };

export interface Database {
  readonly prisma: PrismaClient;
  readonly kind: 'pglite' | 'postgres';
  /** Runs raw, possibly multi-statement SQL outside Prisma (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs one parameterised statement outside Prisma and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Runs fn on one dedicated connection (PostgreSQL) or the single PGlite session, so session state such
   * as advisory locks and transactions stays on the connection that created it.
   */
  withSession<T>(fn: (session: Pick<Database, 'exec' | 'query'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Opens the database: PGlite (PostgreSQL compiled to WebAssembly, in this process) by default, or a
 * PostgreSQL server through a bounded pg pool. Both speak the same SQL, so one migration history serves both.
 */
export async function createDb(options: DatabaseOptions): Promise<Database> {
  if (options.kind === 'pglite') {
    if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
    const lite = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
    await lite.waitReady;
    const prisma = new PrismaClient({ adapter: new PrismaPGlite(lite) });
    let closed = false;
    const session = {
      exec: async (sql: string) => {
        await lite.exec(sql);
      },
      query: async <T>(sql: string, params: unknown[] = []) => (await lite.query<T>(sql, params)).rows,
    };
    return {
      prisma,
      kind: 'pglite',
      ...session,
      // PGlite has a single session; its own lock serialises callers.
      withSession: (fn) => fn(session),
      async close() {
        if (closed) return;
        closed = true;
        await prisma.$disconnect();
        await lite.close();
      },
    };
  }

  const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
  // An idle client that loses its server (restart, failover) emits 'error' on the pool; unhandled, that
  // would crash the process. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed = false;
  return {
    prisma,
    kind: 'postgres',
    exec: async (sql) => {
      await pool.query(sql);
    },
    query: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[],
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          exec: async (sql) => {
            await client.query(sql);
          },
          query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
        });
      } finally {
        client.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
