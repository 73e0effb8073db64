import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import { ACQUIRE_LEASE_SQL, createLeases } from '../../src/generations/leases.ts';
import { TRANSITION_SQL } from '../../src/generations/store-sql.ts';
import { INSERT_GENERATION_SQL, LOCK_TENANT_SQL, QUEUE_SUBMITTED_SQL } from '../../src/generations/submit-sql.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { IMAGE, rawGenerationId } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';
import { insertGeneration } from '../helpers/rows.ts';

// generateVideo's statements run on the driver (src/generations/submit-sql.ts), and the answer is built from what
// they wrote instead of a read-back: the answer must still be the stored row, the statements must be the few the
// design says, and a new generation's tracker skips reading a log that cannot exist yet, but only then.

const disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});
async function serve(env: Record<string, string> = {}): Promise<TestServer> {
  // Held in fal's queue, so the row stays as the submission left it.
  const server = await startTestServer({ behaviour: { queuePosition: 3, queueStepMs: 3_600_000 }, env });
  disposers.push(() => server.dispose());
  return server;
}

const FIELDS = `id status backend endpointId falRequestId queuePosition imageUrl endImageUrl prompt multiPrompt { prompt duration }
  duration generateAudio shotType estimatedCost error { code message } createdAt updatedAt startedAt completedAt`;

/** Records every statement sent on the driver (not those in a session's transaction), and resolves on one. */
function recordStatements(database: Database) {
  const texts: string[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const query = database.query.bind(database);
  database.query = async (text: string, params?: unknown[]) => {
    texts.push(text);
    for (const w of waiters.filter((w) => w.text === text)) w.resolve();
    return query(text, params);
  };
  return {
    texts,
    seen: (text: string) => new Promise<void>((resolve) => (texts.includes(text) ? resolve() : waiters.push({ text, resolve }))),
  };
}

async function generate(server: TestServer, input: Record<string, unknown>) {
  const result = await gql(
    server.url,
    `mutation($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename ... on GenerateVideoSuccess { generation { ${FIELDS} } } } }`,
    { input: { imageUrl: IMAGE, ...input } },
  );
  expect(result.errors).toBeUndefined();
  expect(result.data.generateVideo.__typename).toBe('GenerateVideoSuccess');
  return result.data.generateVideo.generation as Record<string, unknown> & { id: string };
}

async function stored(server: TestServer, id: string) {
  const result = await gql(server.url, `query($id: ID!) { videoGeneration(id: $id) { ${FIELDS} } }`, { id });
  expect(result.errors).toBeUndefined();
  return result.data.videoGeneration as Record<string, unknown>;
}

describe('generateVideo on the driver', () => {
  it('answers with exactly the stored row, for every field, with and without the optional inputs', async () => {
    const server = await serve({ QUOTA_MAX_CONCURRENT: '10' });
    const full = await generate(server, {
      endImageUrl: 'https://example.com/end.png',
      multiPrompt: [{ prompt: 'a cat sits', duration: 4 }, { prompt: 'then it jumps' }],
      duration: 9,
      generateAudio: true,
      shotType: 'intelligent',
      idempotencyKey: 'every-field',
    });
    const plain = await generate(server, { prompt: 'a dog runs' });
    for (const answer of [full, plain]) {
      expect(answer).toMatchObject({ status: 'IN_QUEUE', queuePosition: 3 });
      expect(answer.falRequestId).toEqual(expect.any(String));
      expect(await stored(server, answer.id)).toEqual(answer);
    }
    // The same key and input again: the earlier generation, read from the database.
    const again = await generate(server, {
      endImageUrl: 'https://example.com/end.png',
      multiPrompt: [{ prompt: 'a cat sits', duration: 4 }, { prompt: 'then it jumps' }],
      duration: 9,
      generateAudio: true,
      shotType: 'intelligent',
      idempotencyKey: 'every-field',
    });
    expect(again).toEqual(full);
    expect(server.sim.stats.submits).toBe(2);
  });

  it('sends three statements for a submission without key or quota, and the tracker does not read the empty log', async () => {
    const server = await serve();
    const statements = recordStatements(server.running.database);
    const store = server.running.generations.store;
    const logs = store.logs.bind(store);
    let logReads = 0;
    store.logs = (id) => {
      logReads += 1;
      return logs(id);
    };

    const answer = await generate(server, { prompt: 'three statements' });
    // The tracker's first guarded transition (on the stream's first event) comes after its lease and log decision.
    await statements.seen(TRANSITION_SQL);
    // (Background upkeep, e.g. the scan for untracked generations, may run statements of its own in between.)
    const submission = [INSERT_GENERATION_SQL, QUEUE_SUBMITTED_SQL, ACQUIRE_LEASE_SQL, LOCK_TENANT_SQL];
    expect(statements.texts.filter((t) => submission.includes(t))).toEqual([INSERT_GENERATION_SQL, QUEUE_SUBMITTED_SQL, ACQUIRE_LEASE_SQL]);
    expect(logReads).toBe(0);
    expect(await stored(server, answer.id)).toEqual(answer);
  });

  it('reads the log when the row has events its submitter did not write when the lease is taken', async () => {
    const server = await serve();
    const { database, generations } = server.running;
    const store = generations.store;
    const logs = store.logs.bind(store);
    const read: string[][] = [];
    store.logs = async (id) => {
      const lines = await logs(id);
      read.push(lines.map((l) => l.message));
      return lines;
    };
    // Just before this instance takes the lease, a line lands that someone else wrote (another instance that
    // tracked the generation in between, say): the lease statement then shows a later sequence than the
    // submitter's own, so the tracker must read the log (and so knows the line, should fal report it again).
    const query = database.query.bind(database);
    database.query = async (text: string, params?: unknown[]) => {
      if (text === ACQUIRE_LEASE_SQL) {
        const id = String(params?.[0]);
        await store.appendLogsMany([
          { id, lines: [{ message: 'written elsewhere', level: 'INFO', timestamp: new Date() }], leaseOwner: null },
        ]);
      }
      return query(text, params);
    };

    const answer = await generate(server, { prompt: 'someone else logged' });
    await expect.poll(() => read).toEqual([['written elsewhere']]);
    const events = await database.prisma.generationEvent.findMany({ where: { generationId: rawGenerationId(answer.id) } });
    expect(events.filter((e) => e.kind === 'LOG').map((e) => e.logMessage)).toEqual(['written elsewhere']);
  });
});

describe('the submission statements themselves', () => {
  // A bare database: no server whose upkeep would claim or judge these rows meanwhile.
  let db: Database;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ db, dispose } = await createTestDatabase());
  });
  afterAll(() => dispose?.());
  const run = (text: string, params: unknown[]) => db.query<Record<string, unknown>>(text, params);
  const at = () => new Date().toISOString();

  it('QUEUE_SUBMITTED_SQL records the request id and queues only a row still PENDING as the submit left it', async () => {
    const prisma = db.prisma;
    const pending = await insertGeneration(prisma, { status: 'PENDING', lastSequence: 1 });
    expect(await run(QUEUE_SUBMITTED_SQL, [pending, 'req-1', 4, at()])).toEqual([{ sequence: 2 }]);
    expect(await prisma.generation.findUniqueOrThrow({ where: { id: pending } })).toMatchObject({
      status: 'IN_QUEUE',
      falRequestId: 'req-1',
      queuePosition: 4,
      lastSequence: 2,
    });
    const [event] = await prisma.generationEvent.findMany({ where: { generationId: pending } });
    expect(event).toMatchObject({ sequence: 2, kind: 'STATUS', status: 'IN_QUEUE', queuePosition: 4 });
    // Again (a retry): the row is queued already, nothing changes.
    expect(await run(QUEUE_SUBMITTED_SQL, [pending, 'req-1', 4, at()])).toEqual([]);

    // Cancelled or failed while submitting, or holding another request id: no row, nothing written.
    const cancelled = await insertGeneration(prisma, { status: 'CANCELLED', lastSequence: 2 });
    const orphaned = await insertGeneration(prisma, { status: 'FAILED', errorCode: 'SUBMISSION_UNKNOWN', lastSequence: 2 });
    const other = await insertGeneration(prisma, { status: 'PENDING', falRequestId: 'req-other', lastSequence: 1 });
    for (const id of [cancelled, orphaned, other]) {
      const before = await prisma.generation.findUniqueOrThrow({ where: { id } });
      expect(await run(QUEUE_SUBMITTED_SQL, [id, 'req-2', 0, at()])).toEqual([]);
      expect(await prisma.generation.findUniqueOrThrow({ where: { id } })).toEqual(before);
      expect(await prisma.generationEvent.count({ where: { generationId: id } })).toBe(0);
    }
  });

  it("the lease comes with the row's last sequence, and is refused while another instance holds it", async () => {
    const database = db;
    const id = await insertGeneration(database.prisma, { status: 'IN_QUEUE', falRequestId: 'req-lease', lastSequence: 5 });
    const a = createLeases(database.prisma, 'instance-a', 60_000, database);
    const b = createLeases(database.prisma, 'instance-b', 60_000, database);
    expect(await a.acquire(id)).toEqual({ lastSequence: 5 });
    expect(await b.acquire(id)).toBeNull();
    expect(await a.renew([id, '00000000-0000-7000-8000-000000000000'])).toEqual(new Set([id]));
    expect(await b.unclaimed(10)).not.toContain(id);
    await a.release([id]);
    expect(await b.unclaimed(10)).toContain(id);
    expect(await b.acquire(id)).toEqual({ lastSequence: 5 });
  });
});
