import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { POSTGRES_ADMIN_URL } from '../helpers/db.ts';
import { followToEnd, IMAGE } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';

// A full disk must never turn a paid generation into an error (a client without an idempotency key would
// retry and pay twice), and an unpaid one must say that nothing was submitted.

const GENERATE = /* GraphQL */ `
  mutation Generate($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      __typename
      ... on GenerateVideoSuccess { generation { id status falRequestId } }
      ... on Error { message }
    }
  }
`;

const disposers: Array<() => unknown> = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});
async function serve(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const server = await startTestServer(options);
  disposers.push(() => server.dispose());
  return server;
}
/** generateVideo's typed result; a masked "Unexpected error." (what a full disk used to give) fails the test here. */
async function generate(server: TestServer, prompt: string) {
  const result = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt } });
  expect(result.errors).toBeUndefined();
  return result.data.generateVideo;
}
const readyz = async (server: TestServer) => {
  const response = await fetch(server.url.replace(/\/graphql$/, '/readyz'));
  return { status: response.status, body: (await response.json()) as { checks: Record<string, boolean> } };
};

/**
 * Which statement a full disk breaks depends on whether its table's last page still has room (measured on
 * PGlite on a full tmpfs: an insert into a table with free space succeeds, the first row of a new page fails
 * with 53100 "could not extend file"), so a full filesystem cannot pick the one statement each case is
 * about. Here the database itself raises that same error (SQLSTATE 53100, disk_full) from a trigger on
 * exactly that statement, on PGlite and PostgreSQL alike; dropping the trigger is the disk being freed.
 * The real full disk is in the readiness tests below.
 */
async function failStatement(server: TestServer, name: string, timing: string) {
  const db = server.running.database;
  await db.exec(`
    CREATE OR REPLACE FUNCTION reelgraph_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'could not extend file "base/16384/16390": No space left on device' USING ERRCODE = 'disk_full'; END $$;
    CREATE TRIGGER ${name} ${timing} EXECUTE FUNCTION reelgraph_test_disk_full();`);
  return { freed: () => db.exec(`DROP TRIGGER ${name} ON "Generation"`) };
}

describe('storage failing around the submit', () => {
  it('before the submit: a typed StorageUnavailableError saying nothing was submitted, and nothing reaches fal', async () => {
    const server = await serve();
    const disk = await failStatement(server, 'full_on_insert', 'BEFORE INSERT ON "Generation" FOR EACH STATEMENT');
    const answer = await generate(server, 'never stored');
    expect(answer).toEqual({
      __typename: 'StorageUnavailableError',
      message: 'The server could not record the request, so nothing was submitted to fal; it is safe to retry.',
    });
    expect(server.sim.stats.submits).toBe(0);
    expect(await server.running.database.prisma.generation.count()).toBe(0);
    await disk.freed();
    // It was safe to retry.
    const retried = await generate(server, 'never stored');
    expect(retried.__typename).toBe('GenerateVideoSuccess');
    expect(server.sim.stats.submits).toBe(1);
  });

  it("after the submit, storing fal's request id fails: a success with the request id, and it completes once storage is back", async () => {
    const server = await serve();
    const disk = await failStatement(
      server,
      'full_on_record',
      `BEFORE UPDATE ON "Generation" FOR EACH ROW WHEN (OLD."falRequestId" IS NULL AND NEW."falRequestId" IS NOT NULL)`,
    );
    const answer = await generate(server, 'paid for');
    expect(answer.__typename).toBe('GenerateVideoSuccess');
    const [request] = [...server.sim.requests.values()];
    expect(answer.generation.falRequestId).toBe(request.id);
    expect(server.sim.stats.submits).toBe(1);
    const prisma = server.running.database.prisma;
    expect((await prisma.generation.findFirstOrThrow()).falRequestId).toBeNull();

    await disk.freed();
    // The background retry lands, tracking starts, and the generation ends as fal ran it: once, not twice.
    const { generation } = await followToEnd(server, answer.generation.id);
    expect(generation).toMatchObject({ status: 'COMPLETED', falRequestId: request.id });
    expect(server.sim.stats.submits).toBe(1);
    expect(server.logs.join('\n')).toMatch(new RegExp(`fal accepted request ${request.id} but recording it failed`));
  });

  it('after the submit, the IN_QUEUE transition fails: a success, and it completes once storage is back', async () => {
    const server = await serve();
    const disk = await failStatement(
      server,
      'full_on_queue',
      `BEFORE UPDATE ON "Generation" FOR EACH ROW WHEN (OLD.status = 'PENDING' AND NEW.status = 'IN_QUEUE')`,
    );
    const answer = await generate(server, 'paid for, queued');
    expect(answer.__typename).toBe('GenerateVideoSuccess');
    const [request] = [...server.sim.requests.values()];
    expect(answer.generation.falRequestId).toBe(request.id);
    await disk.freed();
    const { generation } = await followToEnd(server, answer.generation.id);
    expect(generation).toMatchObject({ status: 'COMPLETED', falRequestId: request.id });
    expect(server.sim.stats.submits).toBe(1);
  });
});

/** A small tmpfs (we run as root, here and in CI), filled to the last byte on demand. */
function smallDisk(sizeMb: number, owner?: { uid: number; gid: number }) {
  const parent = mkdtempSync(join(tmpdir(), 'reelgraph-full-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'disk');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir]);
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'w');
      try {
        for (const size of [1 << 20, 4096, 512, 1]) {
          const chunk = Buffer.alloc(size, 1);
          try {
            for (;;) writeSync(fd, chunk);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          }
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    unmount() {
      execFileSync('umount', ['-l', dir]);
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

describe('a really full disk', () => {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  afterAll(() => admin.end().catch(() => undefined));

  it('turns /readyz unready while the database cannot write, and no generateVideo answer is an unexpected error', async () => {
    let server: TestServer;
    const onPostgres = process.env.TEST_DATABASE === 'postgres';
    // The PostgreSQL server (local, as on every build machine) runs as the postgres user, which must own its tablespace.
    const owner = onPostgres
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
          gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
        }
      : undefined;
    const disk = smallDisk(96, owner);
    disposers.push(() => disk.unmount());
    if (onPostgres) {
      // PostgreSQL keeps its files in its own data directory; a database created in a tablespace on the small
      // disk keeps every table (and the catalog) there, so filling it is a full disk for that database.
      await admin.connect();
      const name = `reelgraph_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE TABLESPACE ${name} LOCATION '${disk.dir}'`);
      await admin.query(`CREATE DATABASE ${name} TABLESPACE ${name}`);
      disposers.push(async () => {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.query(`DROP TABLESPACE IF EXISTS ${name}`);
      });
      const url = new URL(POSTGRES_ADMIN_URL);
      url.pathname = `/${name}`;
      server = await serve({ env: { DATABASE_URL: url.toString(), LEASE_SCAN_MS: '200' } });
    } else {
      server = await serve({ persistent: true, env: { DATA_DIR: disk.dir, LEASE_SCAN_MS: '200' } });
    }
    expect(await readyz(server)).toMatchObject({ status: 200, body: { checks: { database: true } } });

    disk.fill();
    expect(await readyz(server)).toMatchObject({ status: 503, body: { checks: { database: false } } });
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await generate(server, `on a full disk ${i}`));
    for (const answer of answers) expect(['GenerateVideoSuccess', 'StorageUnavailableError']).toContain(answer.__typename);
    const paid = answers.filter((a) => a.__typename === 'GenerateVideoSuccess');
    // Every success is one fal request, every refusal none.
    expect(server.sim.stats.submits).toBe(paid.length);

    disk.free();
    expect(await readyz(server)).toMatchObject({ status: 200, body: { checks: { database: true } } });
    for (const answer of paid) expect((await followToEnd(server, answer.generation.id)).generation.status).toBe('COMPLETED');
  });
});
