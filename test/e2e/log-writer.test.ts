import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import type { GenerationEvent } from '../../src/generations/events.ts';
import { createLogWriter, type LogAppend } from '../../src/generations/log-writer.ts';
import { createGenerationStore, type NewLogLine } from '../../src/generations/store.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { insertGeneration } from '../helpers/rows.ts';

// Coalesced log writes on a real database (PGlite, or PostgreSQL with TEST_DATABASE=postgres).
let db: Database;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ db, dispose } = await createTestDatabase());
});
afterAll(() => dispose?.());

const newGeneration = (data: { status?: 'PENDING' | 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED'; leaseOwner?: string } = {}) =>
  insertGeneration(db.prisma, { status: data.status ?? 'IN_PROGRESS', leaseOwner: data.leaseOwner ?? null });

const lines = (prefix: string, n: number): NewLogLine[] =>
  Array.from({ length: n }, (_, i) => ({
    message: `${prefix} ${i + 1}`,
    level: 'INFO',
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
  }));

async function stored(id: string) {
  const rows = await db.prisma.generationEvent.findMany({ where: { generationId: id }, orderBy: { sequence: 'asc' } });
  return rows.map((r) => ({ sequence: r.sequence, kind: r.kind, message: r.logMessage }));
}

/** The store's own statement, counted. */
function countingWrite(store: ReturnType<typeof createGenerationStore>) {
  const batches: LogAppend[][] = [];
  const write = (batch: LogAppend[]) => {
    batches.push(batch);
    return store.appendLogsMany(batch);
  };
  return { batches, write };
}

// The app runs the hot statements on the driver (store-sql.ts); a store given only a Prisma client runs the same
// text through Prisma. Both must behave alike.
describe.each([
  { path: 'the driver', sql: true },
  { path: 'Prisma', sql: false },
])('coalesced log writes and transitions on $path', ({ sql }) => {
  const newStore = () => createGenerationStore(db.prisma, sql ? { sql: db } : {});

  it('writes the lines of many generations appending at once in fewer statements, each gap-free and in order', async () => {
    const store = newStore();
    const { batches, write } = countingWrite(store);
    const writer = createLogWriter(write);
    const ids = await Promise.all(Array.from({ length: 40 }, () => newGeneration()));
    // Each generation appends three times in a row (as a tracker does), all generations concurrently.
    const results = await Promise.all(
      ids.map(async (id) => {
        const events: GenerationEvent[] = [];
        for (let round = 0; round < 3; round += 1)
          events.push(...(await writer.append({ id, lines: lines(`r${round}`, 5), leaseOwner: null })));
        return events;
      }),
    );
    expect(batches.length).toBeLessThanOrEqual(3 * 2);
    expect(batches.length).toBeLessThan(ids.length);
    expect(Math.max(...batches.map((b) => b.length))).toBeGreaterThan(1);
    for (const [i, id] of ids.entries()) {
      const expected = ['r0', 'r1', 'r2'].flatMap((r) => lines(r, 5).map((l) => l.message));
      expect(results[i].map((e) => e.sequence)).toEqual(expected.map((_, k) => k + 1));
      expect(results[i].every((e) => e.generationId === id)).toBe(true);
      expect((await stored(id)).map((e) => e.message)).toEqual(expected);
      expect((await stored(id)).map((e) => e.sequence)).toEqual(expected.map((_, k) => k + 1));
      expect((await db.prisma.generation.findUniqueOrThrow({ where: { id } })).lastSequence).toBe(15);
    }
  });

  it('writes nothing for a finished or fenced-off generation in a batch while the others succeed', async () => {
    const store = newStore();
    const { batches, write } = countingWrite(store);
    const writer = createLogWriter(write);
    const active = await newGeneration({ leaseOwner: 'me' });
    const unfenced = await newGeneration({ status: 'IN_QUEUE', leaseOwner: 'someone' });
    const fenced = await newGeneration({ leaseOwner: 'someone-else' });
    const finished = await newGeneration({ status: 'COMPLETED' });
    const [a, u, f, done] = await Promise.all([
      writer.append({ id: active, lines: lines('a', 3), leaseOwner: 'me' }),
      writer.append({ id: unfenced, lines: lines('u', 2), leaseOwner: null }),
      writer.append({ id: fenced, lines: lines('f', 2), leaseOwner: 'me' }),
      writer.append({ id: finished, lines: lines('d', 2), leaseOwner: null }),
    ]);
    expect(batches).toHaveLength(1);
    expect(a.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(u.map((e) => e.sequence)).toEqual([1, 2]);
    expect(f).toEqual([]);
    expect(done).toEqual([]);
    expect(await stored(fenced)).toEqual([]);
    expect(await stored(finished)).toEqual([]);
    expect((await db.prisma.generation.findUniqueOrThrow({ where: { id: fenced } })).lastSequence).toBe(0);
    expect((await stored(active)).map((e) => e.message)).toEqual(['a 1', 'a 2', 'a 3']);
  });

  it('allocates sequences in the statement: interleaved status transitions and coalesced lines never collide', async () => {
    const store = newStore();
    const ids = await Promise.all(Array.from({ length: 10 }, () => newGeneration({ status: 'IN_QUEUE' })));
    await Promise.all(
      ids.map(async (id) => {
        await store.appendLogs(id, lines('q', 2));
        expect(await store.transition(id, 'IN_PROGRESS')).not.toBeNull();
        await store.appendLogs(id, lines('p', 3));
        expect(await store.transition(id, 'COMPLETED')).not.toBeNull();
        // Finished: a late line is refused.
        expect(await store.appendLogs(id, lines('late', 1))).toEqual([]);
      }),
    );
    for (const id of ids) {
      const events = await stored(id);
      expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(events.map((e) => e.message ?? e.kind)).toEqual(['q 1', 'q 2', 'STATUS', 'p 1', 'p 2', 'p 3', 'STATUS']);
    }
  });

  it("keeps a generation's requests in order when it asks twice before a write, and caps the lines per statement", async () => {
    const store = newStore();
    const { batches, write } = countingWrite(store);
    const writer = createLogWriter(write, { maxLines: 10 });
    const id = await newGeneration();
    const others = await Promise.all(Array.from({ length: 6 }, () => newGeneration()));
    const [first, second, ...rest] = await Promise.all([
      writer.append({ id, lines: lines('first', 3), leaseOwner: null }),
      writer.append({ id, lines: lines('second', 3), leaseOwner: null }),
      ...others.map((o) => writer.append({ id: o, lines: lines('o', 4), leaseOwner: null })),
    ]);
    expect(first.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(second.map((e) => e.sequence)).toEqual([4, 5, 6]);
    expect((await stored(id)).map((e) => e.message)).toEqual([...lines('first', 3), ...lines('second', 3)].map((l) => l.message));
    for (const events of rest) expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    for (const batch of batches) {
      expect(batch.reduce((n, r) => n + r.lines.length, 0)).toBeLessThanOrEqual(10);
      expect(new Set(batch.map((r) => r.id)).size).toBe(batch.length);
    }
    // A single request larger than the cap still goes (alone).
    expect(await writer.append({ id, lines: lines('big', 25), leaseOwner: null })).toHaveLength(25);
  });

  it('rejects every caller of a failed statement and commits none of their lines', async () => {
    const store = newStore();
    const ids = await Promise.all(Array.from({ length: 5 }, () => newGeneration()));
    // An id that is not a uuid makes the whole statement fail.
    const outcomes = await Promise.allSettled([
      ...ids.map((id) => store.appendLogs(id, lines('x', 2))),
      store.appendLogs('not-a-uuid', lines('x', 1)),
    ]);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    for (const id of ids) {
      expect(await stored(id)).toEqual([]);
      expect((await db.prisma.generation.findUniqueOrThrow({ where: { id } })).lastSequence).toBe(0);
    }
    // The writer is not stuck: the next batch goes through.
    expect((await store.appendLogs(ids[0], lines('y', 1))).map((e) => e.sequence)).toEqual([1]);
  });

  it('names each write so its lines can share one read of the generation', async () => {
    const store = newStore();
    const id = await newGeneration();
    const [one, two] = await Promise.all([
      store.appendLogs(id, lines('a', 3)),
      Promise.resolve().then(() => store.appendLogs(id, lines('b', 2))),
    ]);
    const batchOf = (e: GenerationEvent) => (e.kind === 'LOG' ? e.batch : undefined);
    expect(new Set(one.map(batchOf)).size).toBe(1);
    expect(new Set(two.map(batchOf)).size).toBe(1);
    expect(batchOf(one[0])).not.toBe(batchOf(two[0]));
  });

  it('refuses a transition or a line by an instance that lost its lease, and lets the holder write', async () => {
    const store = newStore();
    const id = await newGeneration({ status: 'IN_QUEUE', leaseOwner: 'new-holder' });
    expect(await store.transition(id, 'IN_PROGRESS', { leaseOwner: 'old-holder' })).toBeNull();
    expect(await store.appendLogs(id, lines('stale', 2), 'old-holder')).toEqual([]);
    expect(await stored(id)).toEqual([]);
    const moved = await store.transition(id, 'IN_PROGRESS', { leaseOwner: 'new-holder' });
    expect(moved).toMatchObject({ kind: 'STATUS', status: 'IN_PROGRESS', sequence: 1 });
    // Idempotent: the same transition again is refused by the state guard.
    expect(await store.transition(id, 'IN_PROGRESS', { leaseOwner: 'new-holder' })).toBeNull();
    expect((await store.appendLogs(id, lines('fresh', 2), 'new-holder')).map((e) => e.sequence)).toEqual([2, 3]);
  });

  it('stores the times and the video of a transition exactly as given (UTC), with a queue position that only falls', async () => {
    const store = newStore();
    const id = await newGeneration({ status: 'PENDING' });
    const queued = await store.transition(id, 'IN_QUEUE', { queuePosition: 3 });
    expect(queued).toMatchObject({ sequence: 1, queuePosition: 3 });
    expect(await store.transition(id, 'IN_QUEUE', { queuePosition: 3 })).toBeNull();
    expect(await store.transition(id, 'IN_QUEUE', { queuePosition: 5 })).toBeNull();
    expect(await store.transition(id, 'IN_QUEUE', { queuePosition: 1 })).toMatchObject({ sequence: 2, queuePosition: 1 });
    const started = await store.transition(id, 'IN_PROGRESS');
    const video = { sourceUrl: 'https://fal.media/v.mp4', contentType: 'video/mp4', fileName: 'v.mp4', fileSize: 1234 };
    const done = await store.transition(id, 'COMPLETED', { video });
    const row = await db.prisma.generation.findUniqueOrThrow({ where: { id }, include: { video: true } });
    expect(row).toMatchObject({ status: 'COMPLETED', lastSequence: 4, queuePosition: null, errorCode: null });
    expect(row.startedAt?.toISOString()).toBe(started!.at.toISOString());
    expect(row.completedAt?.toISOString()).toBe(done!.at.toISOString());
    expect(row.updatedAt.toISOString()).toBe(done!.at.toISOString());
    expect(row.video).toMatchObject(video);
    const events = await db.prisma.generationEvent.findMany({ where: { generationId: id }, orderBy: { sequence: 'asc' } });
    expect(events.map((e) => [e.sequence, e.status, e.queuePosition])).toEqual([
      [1, 'IN_QUEUE', 3],
      [2, 'IN_QUEUE', 1],
      [3, 'IN_PROGRESS', null],
      [4, 'COMPLETED', null],
    ]);
    expect(events[3].createdAt.toISOString()).toBe(done!.at.toISOString());
    // A failure keeps its error; a finished generation refuses every further transition.
    const failed = await newGeneration({ status: 'IN_PROGRESS' });
    await store.transition(failed, 'FAILED', { error: { code: 'X', message: 'went wrong' } });
    expect(await db.prisma.generation.findUniqueOrThrow({ where: { id: failed } })).toMatchObject({
      errorCode: 'X',
      errorMessage: 'went wrong',
    });
    expect(await store.transition(failed, 'COMPLETED', { video })).toBeNull();
    expect(await db.prisma.videoOutput.findMany({ where: { generationId: failed } })).toEqual([]);
  });
});
