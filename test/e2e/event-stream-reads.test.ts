import { execute, parse, subscribe, type ExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, PrismaClient } from '../../src/db/index.ts';
import { toMessage, type GenerationEvent } from '../../src/generations/events.ts';
import { createGenerationStore } from '../../src/generations/store.ts';
import { readSubscriptionStart } from '../../src/generations/subscription-reads.ts';
import { isLive, type LiveEvent } from '../../src/generations/live-event.ts';
import { openGenerationEventStream, type SubscriberLimits } from '../../src/generations/subscriptions.ts';
import { createEventBus, topics, type EventBus } from '../../src/pubsub/index.ts';
import { createEventLoader, type EventLoader } from '../../src/schema/event-loader.ts';
import { buildSchema } from '../../src/schema/index.ts';
import { createTestPglite } from '../helpers/db.ts';
import { insertGeneration } from '../helpers/rows.ts';

/**
 * The subscription stream against a real database and a real in-process bus, counting the statements it
 * sends (a Prisma query extension on the real client): a subscribe is one read, however long the history,
 * up to one page; everything else (order, completion, repair, isolation) holds as before.
 */
let database: Database;
let db: PrismaClient;
let reads = 0;
let listeners = 0;
let bus: EventBus;

beforeAll(async () => {
  database = await createTestPglite();
  db = database.prisma.$extends({
    query: {
      async $allOperations({ args, query }) {
        reads += 1;
        return query(args);
      },
    },
  }) as unknown as PrismaClient;
  // The real bus, counting the listeners on it, so a stream that forgets to leave shows up.
  const real = createEventBus();
  bus = {
    publish: (topic, payload) => real.publish(topic, payload),
    publishMany: (topic, payloads) => real.publishMany(topic, payloads),
    subscribe(topic, listener) {
      // Generation topics only: the hubs' one listener for dashboard updates (cache invalidation) is the bus'.
      const counted = topic.startsWith('generation:');
      if (counted) listeners += 1;
      const off = real.subscribe(topic, listener);
      return () => {
        if (counted) listeners -= 1;
        off();
      };
    },
  };
});
afterAll(() => database?.close());

const newGeneration = (tenantId = 'a') => insertGeneration(database.prisma, { tenantId, endpointId: 'e' });

/** Appends n log events (as the tracker would) and returns them, as published. */
async function addLogs(id: string, n: number): Promise<GenerationEvent[]> {
  const [{ base }] = await database.query<{ base: number }>(
    `WITH g AS (UPDATE "Generation" SET "lastSequence" = "lastSequence" + $2, status = 'IN_PROGRESS' WHERE id = $1 RETURNING "lastSequence" - $2 AS base)
     INSERT INTO "GenerationEvent" ("generationId", sequence, kind, "logMessage", "logLevel", "logTimestamp")
     SELECT $1, g.base + i, 'LOG', 'line ' || (g.base + i), 'INFO', now() FROM g, generate_series(1, $2::int) AS i
     RETURNING (SELECT base FROM g) AS base`,
    [id, n],
  );
  return createGenerationStore(database.prisma).eventsAfter(id, Number(base), n);
}

async function finish(id: string): Promise<GenerationEvent> {
  await database.query(
    `WITH g AS (UPDATE "Generation" SET "lastSequence" = "lastSequence" + 1, status = 'COMPLETED' WHERE id = $1 RETURNING "lastSequence")
     INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status) SELECT $1, "lastSequence", 'STATUS', 'COMPLETED' FROM g`,
    [id],
  );
  const events = await createGenerationStore(database.prisma).eventsAfter(id, 0, 100_000);
  return events.at(-1)!;
}

const publish = (event: GenerationEvent) => bus.publish(topics.generationEvents(event.generationId), toMessage(event));

function open(id: string, after = 0, tenantId: string | null = 'a', repairMs = 60_000, limits: SubscriberLimits = {}) {
  const store = createGenerationStore(db);
  return openGenerationEventStream(
    bus,
    store,
    id,
    after,
    { tenantId, readStart: (a, limit) => readSubscriptionStart(db, id, tenantId, a, limit) },
    { repairMs, replayFreshMs: 60_000 },
    limits,
  );
}

async function take(stream: AsyncIterableIterator<LiveEvent>, n: number): Promise<LiveEvent[]> {
  const out: LiveEvent[] = [];
  while (out.length < n) {
    const step = await stream.next();
    if (step.done) break;
    out.push(step.value);
  }
  return out;
}

async function drain(stream: AsyncIterableIterator<LiveEvent>): Promise<LiveEvent[]> {
  const out: LiveEvent[] = [];
  for await (const event of stream) out.push(event);
  return out;
}

describe('videoGenerationEvents reads', () => {
  it('checks ownership, reads status and the first history page in one statement, then needs no other read', async () => {
    const id = await newGeneration();
    const history = await addLogs(id, 40);
    reads = 0;
    const stream = (await open(id))!;
    const replay = await take(stream, 40);
    expect(replay.map((e) => e.sequence)).toEqual(history.map((e) => e.sequence));
    expect(replay).toEqual(history);
    // One page, one batch memo: the generation behind all of them can be loaded once.
    expect(new Set(replay.map((e) => e.batchMemo)).size).toBe(1);
    expect(replay[0].batchMemo).not.toBe(replay[0].memo);
    expect(reads).toBe(1);
    // What the subscription executes for each replayed event: `generation { }` is read once for the page.
    const schema = buildSchema();
    const selection = parse(`subscription { videoGenerationEvents(id: "${id}") { sequence generation { id status } } }`);
    for (const event of replay) {
      const result = await execute({
        schema,
        document: selection,
        rootValue: event,
        contextValue: { db, caller: { tenantId: 'a' }, eventLoader: createEventLoader(db) },
      });
      expect(result.errors).toBeUndefined();
      expect(result.data).toEqual({
        videoGenerationEvents: { sequence: event.sequence, generation: { id: expect.any(String), status: 'IN_PROGRESS' } },
      });
    }
    expect(reads).toBe(2);

    // Live events follow in order, and the terminal one completes the stream, without another read.
    const more = await addLogs(id, 2);
    const done = await finish(id);
    reads = 0;
    for (const event of [...more, done]) publish(event);
    const live = await drain(stream);
    expect(live.map((e) => e.sequence)).toEqual([41, 42, 43]);
    // Live events without a write batch (these were published one by one) each have a memo of their own.
    expect(live[0].batchMemo).toBe(live[0].memo);
    expect(reads).toBe(0);
    expect(listeners).toBe(0);
  });

  it('a finished generation with afterSequence at its end completes at once after one read', async () => {
    const id = await newGeneration();
    await addLogs(id, 3);
    const done = await finish(id);
    reads = 0;
    expect(await drain((await open(id, done.sequence))!)).toEqual([]);
    expect(await drain((await open(id, done.sequence + 5))!)).toEqual([]);
    expect(reads).toBe(2);
    // From the start: the whole history once, ending with the terminal event.
    const all = await drain((await open(id))!);
    expect(all.map((e) => e.sequence)).toEqual([1, 2, 3, 4]);
    expect(listeners).toBe(0);
  });

  it('afterSequence past the end of a running generation completes when it finishes', async () => {
    const id = await newGeneration();
    await addLogs(id, 2);
    const stream = (await open(id, 10))!;
    const done = await finish(id);
    publish(done);
    expect(await drain(stream)).toEqual([]);
    expect(listeners).toBe(0);
  });

  it('pages through a history longer than one page in order, one read per page', async () => {
    const id = await newGeneration();
    await addLogs(id, 1_203);
    const done = await finish(id);
    reads = 0;
    const all = await drain((await open(id, 0))!);
    expect(all.map((e) => e.sequence)).toEqual(Array.from({ length: done.sequence }, (_, i) => i + 1));
    expect(reads).toBe(3);
    expect(new Set(all.map((e) => e.batchMemo)).size).toBe(3);
  });

  it("another tenant's generation is not found, and nothing is left listening", async () => {
    const id = await newGeneration('b');
    expect(await open(id, 0, 'a')).toBeNull();
    expect(await open('0190d6a4-0000-7000-8000-000000000000')).toBeNull();
    expect(listeners).toBe(0);
    // An admin (no tenant filter) sees it.
    const admin = (await open(id, 0, null))!;
    await admin.return!();
    expect(listeners).toBe(0);
  });

  it('listens before reading: an event written and published during the start read is delivered once', async () => {
    const id = await newGeneration();
    await addLogs(id, 1);
    const store = createGenerationStore(db);
    let written: GenerationEvent[] = [];
    const stream = (await openGenerationEventStream(bus, store, id, 0, {
      tenantId: 'a',
      readStart: async (a, limit) => {
        // Written and published after the stream listened, before its read: seen in the page and live.
        written = await addLogs(id, 1);
        publish(written[0]);
        return readSubscriptionStart(db, id, 'a', a, limit);
      },
    }))!;
    const done = await finish(id);
    publish(done);
    expect((await drain(stream)).map((e) => e.sequence)).toEqual([1, 2, 3]);
  });

  it('repairs a publish that skips ahead and one that is lost', async () => {
    const id = await newGeneration();
    await addLogs(id, 1);
    const stream = (await open(id, 0, 'a', 50))!;
    expect((await take(stream, 1)).map((e) => e.sequence)).toEqual([1]);
    const [two, three] = await addLogs(id, 2);
    publish(three); // two was lost or is late: the gap is read from the database
    expect((await take(stream, 2)).map((e) => e.sequence)).toEqual([2, 3]);
    publish(two); // the late one is dropped
    await finish(id); // never published: the hub's repair read finds it
    expect((await drain(stream)).map((e) => e.sequence)).toEqual([4]);
    expect(listeners).toBe(0);
  });

  it('a stream returned before its first next() leaves the hub', async () => {
    const id = await newGeneration();
    const stream = (await open(id))!;
    expect(listeners).toBe(1);
    await stream.return!();
    expect(listeners).toBe(0);
  });
});

describe('one LiveEvent per published event', () => {
  // The N+1 fix and cohort execution rest on this: every local subscriber's resolvers are handed the very
  // object the hub made for a published event, never a copy (a `{ ...event }` or `map((e) => ({ ...e }))`
  // anywhere between the bus and the resolvers fails here).
  it("every subscriber's resolvers see the same LiveEvent, and the generation is read once per write batch", async () => {
    const id = await newGeneration();
    const schema = buildSchema();
    const document = parse(`subscription { videoGenerationEvents(id: "${id}") { sequence generation { id status } } }`);
    const seen: LiveEvent[][] = [];
    const subscriber = async () => {
      const mine: LiveEvent[] = [];
      seen.push(mine);
      const real = createEventLoader(db);
      // This subscriber's own request loader, noting what the `generation` resolver was handed.
      const eventLoader: EventLoader = {
        generation: (event, ...rest) => {
          mine.push(event as LiveEvent);
          return real.generation(event, ...rest);
        },
      };
      const generations = { subscribeToEvents: async (genId: string, after: number | null) => (await open(genId, after ?? 0))! };
      const results = await subscribe({ schema, document, contextValue: { db, caller: { tenantId: 'a' }, generations, eventLoader } });
      return results as AsyncGenerator<ExecutionResult>;
    };
    const subscriptions = await Promise.all([subscriber(), subscriber(), subscriber()]);
    expect(listeners).toBe(1); // one hub for the three
    const batch = `${id}#3`;
    const lines = (await addLogs(id, 3)).map((event) => ({ ...event, batch }));
    const done = await finish(id);
    reads = 0;
    for (const event of [...lines, done]) publish(event);
    for (const results of subscriptions) {
      const all: ExecutionResult[] = [];
      for await (const result of results) all.push(result);
      expect(all.map((r) => r.errors)).toEqual([undefined, undefined, undefined, undefined]);
      expect(all.map((r) => (r.data as { videoGenerationEvents: { sequence: number } }).videoGenerationEvents.sequence)).toEqual([
        1, 2, 3, 4,
      ]);
    }
    const [first, ...others] = seen;
    expect(first).toHaveLength(4);
    for (const other of others) {
      expect(other).toHaveLength(4);
      other.forEach((event, i) => expect(event).toBe(first[i]));
    }
    // Made by the hub (a copy made once and shared would pass the check above, not this one).
    for (const event of first) expect(isLive(event)).toBe(true);
    // The batch's three lines share one batch memo (one read for all of them and all three subscribers);
    // the terminal status has its own.
    expect(first[1].batchMemo).toBe(first[0].batchMemo);
    expect(first[2].batchMemo).toBe(first[0].batchMemo);
    expect(first[3].batchMemo).not.toBe(first[0].batchMemo);
    expect(first[1].memo).not.toBe(first[0].memo);
    expect(reads).toBe(2);
    expect(listeners).toBe(0);
  });
});

describe('a subscriber that falls behind its buffer', () => {
  it('slow but reading: a full inbox is dropped and read back from the database, in order, without gaps', async () => {
    const id = await newGeneration();
    const ended: string[] = [];
    const stream = (await open(id, 0, 'a', 60_000, { buffer: 16 }))!;
    stream.onTooSlow(() => ended.push('too slow'));
    // 24 events while the subscriber takes none: the inbox (16) overflows and is dropped, not ended (the
    // first time). It takes one, then another 24 arrive: dropped again, still not ended (it was reading).
    for (const event of await addLogs(id, 24)) publish(event);
    const first = await take(stream, 1);
    for (const event of await addLogs(id, 24)) publish(event);
    publish(await finish(id));
    const rest = await drain(stream);
    expect([...first, ...rest].map((e) => e.sequence)).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
    expect(ended).toEqual([]);
    expect(listeners).toBe(0);
  });

  it('stopped: a second inbox filling while it takes nothing ends the stream, and it leaves the hub', async () => {
    const id = await newGeneration();
    const stream = (await open(id, 0, 'a', 60_000, { buffer: 16 }))!;
    let ended = 0;
    stream.onTooSlow(() => (ended += 1));
    await take(stream, 0);
    expect(listeners).toBe(1);
    for (const event of await addLogs(id, 40)) publish(event);
    expect(ended).toBe(1);
    expect(listeners).toBe(0);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    // Registered after the end: told at once.
    stream.onTooSlow(() => (ended += 1));
    expect(ended).toBe(2);
  });
});
