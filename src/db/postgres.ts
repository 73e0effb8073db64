import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/client.ts';
import type { Database, Session, SqlSession } from './index.ts';

/**
 * PostgreSQL through one bounded pg pool, shared by Prisma (@prisma/adapter-pg, which takes a connection
 * per query and holds one for each transaction) and by raw SQL. Passing our own pool means close() decides
 * when it ends, after Prisma has let go of it.
 */
// Promise-returning like openPglite, so createDb treats both alike; nothing here needs to wait.
export function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection that loses its server (restart, failover, pg_terminate_backend) makes the pool emit
  // 'error'; without a listener that would crash the process. The next query simply gets a new connection.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closing: Promise<void> | undefined;

  return Promise.resolve({
    prisma,
    kind: 'postgres',
    ...sqlOn(pool),
    async withSession(fn) {
      const client = await pool.connect();
      let failed = false;
      try {
        return await fn(sessionOn(client));
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        // After a failure the connection may still hold session state (an advisory lock whose unlock did
        // not run, an aborted transaction): destroy it rather than hand it to the next query.
        client.release(failed);
      }
    },
    close() {
      closing ??= (async () => {
        await prisma.$disconnect();
        await pool.end();
      })();
      return closing;
    },
  });
}

function sqlOn(target: pg.Pool | pg.PoolClient): SqlSession {
  return {
    async exec(sql) {
      // Without parameters pg uses the simple query protocol, which accepts several statements at once.
      await target.query(sql);
    },
    async query<T>(sql: string, params: unknown[] = []) {
      const name = statementName(sql);
      return (await target.query(name ? { name, text: sql, values: params } : { text: sql, values: params })).rows as T[];
    },
  };
}

/**
 * Most statements distinct texts that get a name; every one is prepared once per connection and stays on it
 * (server memory), so a process that builds many shapes of statement names only the first ones.
 */
const MAX_NAMED_STATEMENTS = 200;
const statementNames = new Map<string, string>();

/**
 * A name for a statement's text: pg then prepares it once per connection and sends only Bind/Execute after,
 * and PostgreSQL skips parsing and (once it settles on a generic plan) planning. The hot statements (a history
 * page, generateVideo's writes, the tracker's) are few texts run thousands of times; parsing and planning them
 * again each time was PostgreSQL's CPU on the same two cores as the server. A search is left unnamed: whether
 * its GIN index or the keyset index serves it depends on the search words, which a generic plan cannot see.
 */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= MAX_NAMED_STATEMENTS || text.includes('@@')) return undefined;
    name = `rg${statementNames.size}`;
    statementNames.set(text, name);
  }
  return name;
}

function sessionOn(client: pg.PoolClient): Session {
  const sql = sqlOn(client);
  return {
    ...sql,
    async transaction(fn) {
      await client.query('BEGIN');
      try {
        const result = await fn(sql);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // If the connection itself broke, ROLLBACK fails too; report the first error (withSession then
        // destroys the connection, and PostgreSQL rolls back whatever it still held).
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    },
  };
}
