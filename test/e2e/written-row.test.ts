import { execute, parse, subscribe, type ExecutionResult } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Generation, PrismaClient } from '../../src/db/index.ts';
import { toMessage, type GenerationEvent } from '../../src/generations/events.ts';
import { WRITTEN_COLUMNS, type WrittenRow } from '../../src/generations/generation-row.ts';
import { isLive, LiveEvents } from '../../src/generations/live-event.ts';
import type { GenerationStatus } from '../../src/generations/status.ts';
import { createGenerationStore } from '../../src/generations/store.ts';
import { readSubscriptionStart } from '../../src/generations/subscription-reads.ts';
import { openGenerationEventStream } from '../../src/generations/subscriptions.ts';
import { createEventBus, topics } from '../../src/pubsub/index.ts';
import { createEventLoader } from '../../src/schema/event-loader.ts';
import { buildSchema } from '../../src/schema/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { insertGeneration } from '../helpers/rows.ts';

/**
 * The generation row a write returns and its events carry in this process (issue #15: src/generations/
 * generation-row.ts, GenerationEvent.row, schema/event-loader.ts), against a real database (PGlite, or PostgreSQL
 * with TEST_DATABASE=postgres), the real store statements and the real in-process bus and hub. A cache like any
 * other: it must be Prisma's row exactly, follow every write, never outlive its batch, never reach the wire or a
 * foreign tenant, and leave events read back from the database (repair, replay) to the read they always had.
 */
let database: Database;
let dispose: () => Promise<void>;
/** Counted: every statement sent through it, as `Model.operation`, announced on `statements`. */
let db: PrismaClient;
const operations: string[] = [];
const rowReads = () => operations.filter((op) => op === 'Generation.findUniqueOrThrow').length;
const schema = buildSchema();
// Another zone than UTC: a `timestamp` parsed in the process' local time would be hours off here.
const zone = process.env.TZ;

beforeAll(async () => {
  process.env.TZ = 'Asia/Kolkata';
  ({ db: database, dispose } = await createTestDatabase());
  db = database.prisma.$extends({
    query: {
      async $allOperations({ model, operation, args, query }) {
        operations.push(`${model}.${operation}`);
        return query(args);
      },
    },
  }) as unknown as PrismaClient;
});
afterAll(async () => {
  await dispose?.();
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

/** The store as the app builds it (statements on the driver), and as a test holding only a client does (Prisma raw). */
const stores = () => [createGenerationStore(database.prisma, { sql: database }), createGenerationStore(database.prisma)];
const store = () => stores()[0];

const lines = (n: number) => Array.from({ length: n }, (_, i) => ({ message: `line ${i}`, level: 'INFO', timestamp: new Date() }));

async function transition(id: string, to: GenerationStatus, details: Parameters<ReturnType<typeof store>['transition']>[2] = {}) {
  const event = await store().transition(id, to, details);
  if (!event) throw new Error(`transition to ${to} refused`);
  return event;
}

/** Every carried column against Prisma's own read of the row, by value and by type. */
async function expectPrismaRow(row: WrittenRow | undefined, id: string) {
  expect(row).toBeDefined();
  const prisma = (await database.prisma.generation.findUnique({ where: { id } })) as Generation;
  expect(Object.keys(row!).sort()).toEqual([...WRITTEN_COLUMNS].sort());
  for (const column of WRITTEN_COLUMNS) {
    const mine = row![column as keyof WrittenRow];
    const theirs = prisma[column as keyof Generation];
    expect({ column, value: mine }).toStrictEqual({ column, value: theirs });
    if (theirs instanceof Date) expect(mine).toBeInstanceOf(Date);
  }
}

type Resolved = { sequence: number; generation: Record<string, unknown> };

/** What `generation { ... }` resolves to on `event` for a subscriber of `tenantId` (the hub's own execution path). */
async function resolve(event: GenerationEvent, selection: string, tenantId = 'a', loader = createEventLoader(db)): Promise<Resolved> {
  const document = parse(`subscription { videoGenerationEvents(id: "x") { sequence generation { ${selection} } } }`);
  const contextValue = { db, caller: { tenantId }, eventLoader: loader, publicOrigin: 'http://x', videoPath: (id: string) => `/v/${id}` };
  const result = await execute({ schema, document, rootValue: event, contextValue });
  expect(result.errors).toBeUndefined();
  return (result.data as { videoGenerationEvents: Resolved }).videoGenerationEvents;
}

describe('the row a write carries', () => {
  it("is Prisma's row, field by field, from every write (transitions and log batches), on both statement paths", async () => {
    for (const writer of stores()) {
      const id = await insertGeneration(database.prisma, {
        tenantId: 'a',
        prompt: null,
        multiPrompt: [{ prompt: 'first', duration: 3 }, { prompt: 'second' }],
        endImageUrl: 'https://example.com/end.png',
        estimatedCostMicros: 1_234_567,
        falInput: { image_url: 'https://example.com/a.png' },
        deadlineAt: new Date(Date.now() + 60_000),
      });
      const queued = (await writer.transition(id, 'IN_QUEUE', { queuePosition: 3 }))!;
      await expectPrismaRow(queued.row, id);
      expect(queued.row!.queuePosition).toBe(3);
      await database.prisma.generation.update({ where: { id }, data: { falRequestId: `req-${id}` } });
      const started = (await writer.transition(id, 'IN_PROGRESS'))!;
      await expectPrismaRow(started.row, id);
      expect(started.row!.startedAt).toEqual(started.at);

      const [batch] = await writer.appendLogsMany([{ id, lines: lines(3), leaseOwner: null }]);
      expect(batch).toHaveLength(3);
      await expectPrismaRow(batch[0].row, id);
      // One row for the whole batch, the one its write left.
      for (const event of batch) expect(event.row).toBe(batch[0].row);
      expect(batch[0].row!.updatedAt).toEqual(batch[0].at);

      const failed = (await writer.transition(id, 'FAILED', { error: { code: 'FAL_TEST', message: 'it broke' } }))!;
      await expectPrismaRow(failed.row, id);
      expect(failed.row!.completedAt).toEqual(failed.at);
    }
  });

  it('never reaches the wire or a copy: JSON (Redis), toMessage and a spread leave it behind', async () => {
    const id = await insertGeneration(database.prisma, { tenantId: 'secret-tenant' });
    const event = await transition(id, 'IN_PROGRESS');
    const [line] = await store().appendLogs(id, lines(1));
    for (const written of [event, line]) {
      expect(written.row?.tenantId).toBe('secret-tenant');
      expect(JSON.stringify(written)).not.toContain('secret-tenant');
      expect(JSON.stringify(toMessage(written))).not.toContain('secret-tenant');
      expect({ ...written }.row).toBeUndefined();
      expect(Object.keys(written)).not.toContain('row');
    }
  });
});

describe('generation { ... } on events that carry their row', () => {
  it('reads nothing on a live stream: every event sees its own write, across transitions and batches', async () => {
    const bus = createEventBus();
    const id = await insertGeneration(database.prisma, { tenantId: 'a' });
    const first = await transition(id, 'IN_QUEUE', { queuePosition: 2 });
    const published = [first];
    const streams = {
      subscribeToEvents: async (genId: string, after: number | null) =>
        (await openGenerationEventStream(bus, createGenerationStore(db), genId, after ?? 0, {
          tenantId: 'a',
          readStart: (a, limit) => readSubscriptionStart(db, genId, 'a', a, limit),
        }))!,
    };
    const document = parse(`subscription { videoGenerationEvents(id: "${id}") { sequence generation { id status updatedAt } } }`);
    const contextValue = { db, caller: { tenantId: 'a' }, generations: streams, eventLoader: createEventLoader(db) };
    const results = (await subscribe({ schema, document, contextValue })) as AsyncGenerator<ExecutionResult>;
    const next = async () => {
      const step = await results.next();
      expect(step.value.errors).toBeUndefined();
      return (step.value.data as { videoGenerationEvents: { sequence: number; generation: { status: string; updatedAt: Date } } })
        .videoGenerationEvents;
    };
    // The start is replayed from the database: its row is read, as it always was.
    expect((await next()).generation.status).toBe('IN_QUEUE');
    expect(rowReads()).toBe(1);
    operations.length = 0;

    // The writes as the tracker makes them, published as the app publishes them (one bus message per write).
    const publish = (events: GenerationEvent[]) => {
      published.push(...events);
      bus.publishMany(topics.generationEvents(id), events);
    };
    publish(await store().appendLogs(id, lines(2)));
    publish([await transition(id, 'IN_QUEUE', { queuePosition: 0 })]);
    publish(await store().appendLogs(id, lines(3)));
    publish([await transition(id, 'IN_PROGRESS')]);
    publish(await store().appendLogs(id, lines(1)));
    publish(await store().appendLogs(id, lines(2)));
    publish([await transition(id, 'COMPLETED')]);

    // Each event shows the generation as its own write left it: the status of the last transition at or before
    // it, and the write's own time (a later write is never served an earlier batch's row, nor the other way).
    let status = 'IN_QUEUE';
    for (const event of published.slice(1)) {
      if (event.kind === 'STATUS') status = event.status;
      const got = await next();
      expect(got.sequence).toBe(event.sequence);
      expect({ sequence: got.sequence, status: got.generation.status }).toEqual({ sequence: event.sequence, status });
      expect(new Date(got.generation.updatedAt).toISOString()).toBe(event.at.toISOString());
    }
    expect((await results.next()).done).toBe(true);
    expect(rowReads()).toBe(0);
  });

  it('reads no row per write: one write at a time, each delivered before the next, still zero reads', async () => {
    const bus = createEventBus();
    const id = await insertGeneration(database.prisma, { tenantId: 'a' });
    await transition(id, 'IN_PROGRESS');
    const streams = {
      subscribeToEvents: async (genId: string, after: number | null) =>
        (await openGenerationEventStream(bus, createGenerationStore(db), genId, after ?? 0, {
          tenantId: 'a',
          readStart: (a, limit) => readSubscriptionStart(db, genId, 'a', a, limit),
        }))!,
    };
    const document = parse(`subscription { videoGenerationEvents(id: "${id}") { sequence generation { id status } } }`);
    const contextValue = { db, caller: { tenantId: 'a' }, generations: streams, eventLoader: createEventLoader(db) };
    const results = (await subscribe({ schema, document, contextValue })) as AsyncGenerator<ExecutionResult>;
    expect((await results.next()).value.errors).toBeUndefined(); // the replayed start (read, as always)
    for (let write = 0; write < 5; write += 1) {
      operations.length = 0;
      const events = await store().appendLogs(id, lines(1 + (write % 3)));
      bus.publishMany(topics.generationEvents(id), events);
      for (const event of events) {
        const { value } = await results.next();
        expect(value.errors).toBeUndefined();
        const { sequence, generation } = (value.data as { videoGenerationEvents: Resolved }).videoGenerationEvents;
        expect({ sequence, status: generation.status }).toEqual({ sequence: event.sequence, status: 'IN_PROGRESS' });
      }
      expect({ write, rowReads: rowReads() }).toEqual({ write, rowReads: 0 });
    }
    await results.return(undefined);
  });

  it('events read back from the database (a repair read of lost publishes) have no row: they read it, and resolve correctly', async () => {
    const bus = createEventBus();
    const id = await insertGeneration(database.prisma, { tenantId: 'a' });
    bus.publish(topics.generationEvents(id), await transition(id, 'IN_PROGRESS'));
    const stream = (await openGenerationEventStream(
      bus,
      createGenerationStore(db),
      id,
      0,
      { tenantId: 'a', readStart: (a, limit) => readSubscriptionStart(db, id, 'a', a, limit) },
      { repairMs: 20 },
    ))!;
    const take = async () => (await stream.next()).value!;
    expect((await take()).sequence).toBe(1);
    // Written, never published (Redis was away): the hub's repair finds them, one read for all of them.
    const lost = [...(await store().appendLogs(id, lines(3))), await transition(id, 'COMPLETED')];
    const repaired = [];
    for (const _ of lost) repaired.push(await take());
    expect(repaired.map((e) => e.sequence)).toEqual([2, 3, 4, 5]);
    operations.length = 0;
    const loader = createEventLoader(db);
    for (const event of repaired) {
      expect(event.row).toBeUndefined();
      expect((await resolve(event, 'id status', 'a', loader)).generation.status).toBe('COMPLETED');
    }
    // One read per repair read (its events share one batchMemo). Usually the lost events come back in one repair
    // read; on a busy machine the 20 ms repair may run between the two writes and find them in two.
    const reads = new Set(repaired.map((event) => (isLive(event) ? event.batchMemo : event)));
    expect(reads.size).toBeLessThanOrEqual(2);
    expect(rowReads()).toBe(reads.size);
    await stream.return?.();
  });

  it('a foreign tenant never gets the carried row: it reads, as before', async () => {
    const id = await insertGeneration(database.prisma, { tenantId: 'a' });
    await transition(id, 'IN_PROGRESS');
    const [line] = await store().appendLogs(id, lines(1));
    const live = new LiveEvents().published(line);
    // The database moves on without an event: what a read returns now differs from the carried row.
    await database.prisma.generation.update({ where: { id }, data: { shotType: 'read-not-carried' } });
    operations.length = 0;
    const admin = await resolve(live, 'id shotType', 'b');
    expect(admin.generation.shotType).toBe('read-not-carried');
    expect(rowReads()).toBe(1);
    const owner = await resolve(live, 'id shotType', 'a');
    expect(owner.generation.shotType).toBe('customize');
    expect(rowReads()).toBe(1);
  });

  it('a selection with a relation (video, logs) reads, as before', async () => {
    const id = await insertGeneration(database.prisma, { tenantId: 'a' });
    await transition(id, 'IN_PROGRESS');
    await store().appendLogs(id, lines(2));
    const done = await transition(id, 'COMPLETED', {
      video: { sourceUrl: 'https://example.com/v.mp4', contentType: 'video/mp4', fileName: 'v.mp4', fileSize: 10 },
    });
    expect(done.row).toBeDefined();
    operations.length = 0;
    const live = new LiveEvents();
    expect((await resolve(live.published({ ...done }), 'id video { sourceUrl }')).generation.video).toEqual({
      sourceUrl: 'https://example.com/v.mp4',
    });
    expect(rowReads()).toBe(1);
    const withLogs = await resolve(live.published(done), 'status logs { message }');
    expect(withLogs.generation).toEqual({ status: 'COMPLETED', logs: [{ message: 'line 0' }, { message: 'line 1' }] });
    expect(rowReads()).toBe(2);
  });

  it('plans a selection once per operation: every later event of the same context still resolves it, relations included, on graphql-js and graphql-jit', async () => {
    const id = await insertGeneration(database.prisma, { tenantId: 'a' });
    await transition(id, 'IN_PROGRESS');
    const done = await transition(id, 'COMPLETED', {
      video: { sourceUrl: 'https://example.com/w.mp4', contentType: 'video/mp4', fileName: 'w.mp4', fileSize: 10 },
    });
    const document = parse(`subscription { videoGenerationEvents(id: "x") { sequence generation { id status video { sourceUrl } } } }`);
    const compiled = compileQuery(schema, document);
    if (!isCompiledQuery(compiled)) throw new Error('graphql-jit could not compile the document');
    const runs: Array<(event: GenerationEvent, contextValue: object) => Promise<ExecutionResult>> = [
      async (event, contextValue) => execute({ schema, document, rootValue: event, contextValue }),
      async (event, contextValue) => compiled.query(event, contextValue, {}),
    ];
    for (const run of runs) {
      // One context, as one cohort's executions share it; each event its own batch (each a read of its own).
      const contextValue = {
        db,
        caller: { tenantId: 'a' },
        eventLoader: createEventLoader(db),
        publicOrigin: 'http://x',
        videoPath: (v: string) => `/v/${v}`,
      };
      operations.length = 0;
      for (let n = 1; n <= 3; n += 1) {
        const result = await run(new LiveEvents().published({ ...done }), contextValue);
        expect(result.errors).toBeUndefined();
        expect((result.data as { videoGenerationEvents: Resolved }).videoGenerationEvents.generation).toEqual({
          id: expect.any(String),
          status: 'COMPLETED',
          video: { sourceUrl: 'https://example.com/w.mp4' },
        });
        // The video came with the row's read (its include): one statement per event, and no other (a lost plan
        // would load the video by a fallback read of its own).
        expect(operations).toEqual(Array.from({ length: n }, () => 'Generation.findUniqueOrThrow'));
      }
    }
  });

  it('answers every scalar field of VideoGeneration exactly as the read does', async () => {
    const fields =
      'id status queuePosition endpointId falRequestId backend imageUrl endImageUrl prompt multiPrompt { prompt duration } ' +
      'duration generateAudio shotType estimatedCost error { code message } createdAt updatedAt startedAt completedAt ' +
      'progress { fraction etaSeconds estimatedCompletionAt }';
    const id = await insertGeneration(database.prisma, {
      tenantId: 'a',
      prompt: null,
      multiPrompt: [{ prompt: 'first', duration: 3 }, { prompt: 'second' }],
      endImageUrl: 'https://example.com/end.png',
      estimatedCostMicros: 1_500_000,
    });
    // Each write's events against a read made right after that write (a copy of the event carries nothing).
    const compare = async (event: GenerationEvent) => {
      operations.length = 0;
      const carried = await resolve(new LiveEvents().published(event), fields);
      expect(rowReads()).toBe(0);
      const read = await resolve({ ...event }, fields);
      expect(rowReads()).toBe(1);
      // An active generation's progress moves with the clock between the two executions: compared once finished.
      const settled = (r: Resolved) =>
        event.kind === 'STATUS' && ['COMPLETED', 'FAILED', 'CANCELLED'].includes(event.status)
          ? r
          : { ...r, generation: { ...r.generation, progress: typeof r.generation.progress } };
      expect(settled(carried)).toEqual(settled(read));
      return carried.generation;
    };
    expect(await compare(await transition(id, 'IN_QUEUE', { queuePosition: 4 }))).toMatchObject({ queuePosition: 4, startedAt: null });
    expect(await compare((await store().appendLogs(id, lines(2)))[1])).toMatchObject({ status: 'IN_QUEUE', error: null });
    await database.prisma.generation.update({ where: { id }, data: { falRequestId: `req-${id}` } });
    expect(await compare(await transition(id, 'IN_PROGRESS'))).toMatchObject({ status: 'IN_PROGRESS', falRequestId: `req-${id}` });
    const failed = await compare(await transition(id, 'FAILED', { error: { code: 'FAL_TEST', message: 'it broke' } }));
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'FAL_TEST', message: 'it broke' }, progress: { fraction: 1 } });
  });
});
