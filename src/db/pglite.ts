import { mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { DirInUseError, lockDir, type DirLock } from '../lib/dir-lock.ts';
import { PrismaClient } from './generated/client.ts';
import type { Database, Session, SqlSession } from './index.ts';

/**
 * PostgreSQL's shared buffers live in PGlite's WebAssembly memory, and PGlite zero-fills that region when it
 * starts, so all of it is resident from the first moment: PostgreSQL's default of 128 MB was 150 MB of the
 * process' RSS before any query. 32 MB (4,096 pages) holds the working set here (recent generations, the open
 * generations' events); a page outside it is one read from the OS page cache. Measured on M4 (generateVideo)
 * and M6 (history pages over 100k rows) with 128, 32 and 16 MB: no difference in server CPU per request, RSS
 * 95-150 MB lower at 32 MB. The rest of PGlite's defaults stay (`defaultStartParams`: single-user mode, no
 * fsync, no parallel workers); `-c` settings after them win.
 */
const SHARED_BUFFERS = '32MB';
const PGLITE_OPTIONS = { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`] };

/**
 * PGlite is one PostgreSQL backend with one session, shared by everything in this process. It queues
 * callers itself: a plain query waits while a transaction runs, and `transaction()` holds the session from
 * BEGIN to COMMIT. pglite-prisma-adapter opens Prisma's transactions (interactive and batch) through
 * `transaction()`, so concurrent Prisma calls and `$transaction` are safe: other queries simply wait.
 *
 * The consequence to remember: inside `prisma.$transaction(async (tx) => ...)`, a query on the outer
 * client (`prisma.x` instead of `tx.x`) waits for the transaction it is part of, which stalls until
 * Prisma's transaction timeout (5 s by default) rolls it back. On PostgreSQL the same mistake would
 * only use a second connection, so tests on PGlite catch it.
 *
 * Isolation levels are moot here (transactions never overlap); the adapter's `SET TRANSACTION` for an
 * explicit isolationLevel runs outside the transaction and only draws a warning from PostgreSQL.
 */
export async function openPglite(dataDir: string | null): Promise<Database> {
  let lite: PGlite;
  let lock: DirLock | null = null;
  if (dataDir === null) {
    lite = new PGlite(PGLITE_OPTIONS);
  } else {
    const dir = resolve(dataDir);
    await mkdir(dir, { recursive: true });
    lock = await lockDataDir(dir);
    lite = new PGlite(dir, PGLITE_OPTIONS);
  }
  try {
    await lite.waitReady;
  } catch (error) {
    await lock?.release();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(lite) });

  const direct = sqlOn(lite);
  const session: Session = {
    ...direct,
    transaction: (fn) => lite.transaction((tx) => fn(sqlOn(tx))),
  };
  // withSession callers take turns, so two migrate() calls on one Database cannot interleave: the advisory
  // lock that keeps PostgreSQL instances apart is re-entrant within PGlite's single session.
  let sessionQueue: Promise<unknown> = Promise.resolve();
  let closing: Promise<void> | undefined;

  return {
    prisma,
    kind: 'pglite',
    ...direct,
    withSession(fn) {
      const run = sessionQueue.then(() => fn(session));
      sessionQueue = run.catch(() => {});
      return run;
    },
    close() {
      closing ??= (async () => {
        try {
          await prisma.$disconnect();
          // Waits for queued queries, then shuts PostgreSQL down cleanly (flushing a data directory to disk).
          await lite.close();
        } finally {
          await lock?.release();
        }
      })();
      return closing;
    },
  };
}

function sqlOn(target: PGlite | Transaction): SqlSession {
  return {
    async exec(sql) {
      await target.exec(sql);
    },
    async query<T>(sql: string, params: unknown[] = []) {
      return (await target.query<T>(sql, params)).rows;
    },
  };
}

/**
 * PGlite's data directory belongs to one process: a second one (`npm run keys` while the server runs) would
 * corrupt it. The lock is released by the kernel when its holder dies (see lockDir), so a restart right after
 * a crash is never refused.
 */
async function lockDataDir(dir: string): Promise<DirLock> {
  try {
    const lock = await lockDir(dir, 'reelgraph');
    // The pid file of earlier versions: the socket lock decides now.
    await rm(`${dir}/reelgraph.pid`, { force: true });
    return lock;
  } catch (error) {
    if (!(error instanceof DirInUseError)) throw error;
    throw new Error(
      `the embedded database in ${dir} is in use by ${error.owner === null ? 'another process' : `process ${error.owner}`}; stop that server first, or use PostgreSQL (DATABASE_URL), which many processes can share`,
      { cause: error },
    );
  }
}
