import type { Database } from './index.ts';

/** Thrown to end the probe's transaction without keeping anything. */
class Rollback extends Error {}

/**
 * Whether the database can take a write right now (readiness). A full disk, a read-only database (a
 * failover to a replica, `default_transaction_read_only`) or a lost privilege must all make this false,
 * and `SELECT 1` notices none of them. Neither does an UPDATE of a one-row table: PostgreSQL rewrites such
 * a row inside its page (measured: it still succeeds on a full disk). What always needs new space on disk
 * is the first row of a new table: its file must be extended by a page, and PostgreSQL writes that page at
 * once, so a full disk fails here with 53100 "could not extend file" (measured on PGlite on a full tmpfs;
 * test/reliability/storage-failure.test.ts). Everything is rolled back, so nothing stays behind; two
 * instances probing at once only wait a moment for each other's catalog entry.
 */
export async function canWrite(database: Database): Promise<boolean> {
  try {
    await database.withSession(async (session) => {
      try {
        await session.transaction(async (tx) => {
          await tx.exec(`SET LOCAL statement_timeout = '5s'; SET LOCAL lock_timeout = '5s';
            CREATE TABLE reelgraph_write_probe (at timestamptz);
            INSERT INTO reelgraph_write_probe VALUES (now())`);
          throw new Rollback('write probe rolled back');
        });
      } catch (error) {
        if (!(error instanceof Rollback)) throw error;
      }
    });
    return true;
  } catch {
    return false;
  }
}
