import { parse, subscribe, type ExecutionResult } from 'graphql';
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, PrismaClient } from '../../src/db/index.ts';
import { GenerationNotFoundError } from '../../src/generations/errors.ts';
import { toMessage, type GenerationEvent } from '../../src/generations/events.ts';
import { HistoryCache } from '../../src/generations/history-cache.ts';
import type { LiveEvent } from '../../src/generations/live-event.ts';
import { createGenerationStore } from '../../src/generations/store.ts';
import { readSubscriptionStart } from '../../src/generations/subscription-reads.ts';
import { openGenerationEventStream } from '../../src/generations/subscriptions.ts';
import { createEventBus, topics, type EventBus } from '../../src/pubsub/index.ts';
import { createEventLoader } from '../../src/schema/event-loader.ts';
import { buildSchema } from '../../src/schema/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { insertGeneration } from '../helpers/rows.ts';
import { until } from '../helpers/until.ts';

/**
 * The hub's cache of a generation's owner, status and history (src/generations/history-cache.ts), against a
 * real database (PGlite, or PostgreSQL with TEST_DATABASE=postgres) and the real in-process bus, counting
 * every statement sent through the Prisma client (a query extension): a subscriber after the first reads
 * nothing, the cache follows every transition, survives a repair read, and never answers a foreign tenant.
 */
let database: Database;
let dispose: () => Promise<void>;
let db: PrismaClient;
let reads = 0;
/** Every statement sent through the counted client, as `Model.operation`, announced on `statements`. */
const operations: string[] = [];
const statements = new EventEmitter();
const bus: EventBus = createEventBus();

beforeAll(async () => {
  ({ db: database, dispose } = await createTestDatabase());
  db = database.prisma.$extends({
    query: {
      async $allOperations({ model, operation, args, query }) {
        reads += 1;
        operations.push(`${model}.${operation}`);
        statements.emit('statement');
        return query(args);
      },
    },
  }) as unknown as PrismaClient;
});
afterAll(() => dispose?.());

const newGeneration = (tenantId = 'a') => insertGeneration(database.prisma, { tenantId, endpointId: 'e' });

/** Writes through the real store (uncounted client), as the tracker does; returns what it wrote. */
const writer = () => createGenerationStore(database.prisma);
const publish = (event: GenerationEvent) => bus.publish(topics.generationEvents(event.generationId), toMessage(event));

async function transition(id: string, to: Parameters<ReturnType<typeof writer>['transition']>[1], queuePosition?: number) {
  const event = await writer().transition(id, to, { queuePosition });
  if (!event) throw new Error(`transition to ${to} refused`);
  return event;
}

async function logs(id: string, n: number): Promise<GenerationEvent[]> {
  const lines = Array.from({ length: n }, (_, i) => ({ message: `line ${i}`, level: 'INFO', timestamp: new Date() }));
  return writer().appendLogs(id, lines);
}

function open(id: string, after = 0, tenantId: string | null = 'a', repairMs = 60_000) {
  return openGenerationEventStream(
    bus,
    createGenerationStore(db),
    id,
    after,
    { tenantId, readStart: (a, limit) => readSubscriptionStart(db, id, tenantId, a, limit) },
    { repairMs, replayFreshMs: 60_000 },
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

const close = (stream: AsyncIterableIterator<LiveEvent>) => stream.return?.();
const sequences = (events: GenerationEvent[]) => events.map((e) => e.sequence);
const plain = (events: GenerationEvent[]) => events.map((e) => ({ ...e, batch: undefined }));

describe("the hub's cache", () => {
  it('a second subscriber reads nothing from the database, the generation row included', async () => {
    const id = await newGeneration();
    await transition(id, 'IN_QUEUE', 2);
    await logs(id, 5);
    reads = 0;
    const first = (await open(id))!;
    expect(sequences(await take(first, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reads).toBe(1);

    // What the subscription executes for each replayed event, with each subscriber's own request loader.
    const schema = buildSchema();
    const document = parse(`subscription { videoGenerationEvents(id: "${id}") { sequence generation { id status } } }`);
    const subscriber = async () => {
      const generations = { subscribeToEvents: async (genId: string, after: number | null) => (await open(genId, after ?? 0))! };
      const contextValue = { db, caller: { tenantId: 'a' }, generations, eventLoader: createEventLoader(db) };
      const results = (await subscribe({ schema, document, contextValue })) as AsyncGenerator<ExecutionResult>;
      const out: ExecutionResult[] = [];
      for await (const result of results) {
        out.push(result);
        if (out.length === 6) break;
      }
      return out;
    };
    reads = 0;
    const one = await subscriber();
    expect(one.map((r) => r.errors)).toEqual(Array(6).fill(undefined));
    expect(reads).toBe(1); // the generation row, once for the whole replay (the start came from the cache)
    reads = 0;
    const two = await subscriber();
    const three = await subscriber();
    expect(two).toEqual(one);
    expect(three).toEqual(one);
    expect(reads).toBe(0);

    // A change no event announces (an archived video, told to dashboards): the next replay reads the row anew.
    bus.publish(topics.generationsUpdated, { id, tenantId: 'a' });
    expect(await subscriber()).toEqual(one);
    expect(reads).toBe(1);
    reads = 0;

    // A replay from further on, and the live events after it, still read nothing.
    const later = (await open(id, 4))!;
    const more = await logs(id, 2);
    for (const event of more) publish(event);
    expect(sequences(await take(later, 4))).toEqual([5, 6, 7, 8]);
    expect(sequences(await take(first, 2))).toEqual([7, 8]);
    expect(reads).toBe(0);
    await close(later);
    await close(first);

    // The last member left: the cache went with the hub, and the next first subscriber reads again.
    const again = (await open(id))!;
    expect(reads).toBe(1);
    await close(again);
  });

  it('subscribers arriving together wait for one read, and a foreign one among them is still refused', async () => {
    const id = await newGeneration();
    await transition(id, 'IN_QUEUE', 4);
    reads = 0;
    const streams = await Promise.all([...Array.from({ length: 20 }, () => open(id)), open(id, 0, 'b')]);
    expect(reads).toBe(1);
    expect(streams.at(-1)).toBeNull();
    for (const stream of streams.slice(0, -1)) {
      expect(sequences(await take(stream!, 1))).toEqual([1]);
      await close(stream!);
    }
  });

  it('follows every transition: the cached start is what the database says, at every step', async () => {
    const id = await newGeneration();
    const holder = (await open(id))!; // keeps the hub (and its cache) alive
    const cachedStart = async () => {
      reads = 0;
      const stream = (await open(id))!;
      expect(reads).toBe(0);
      await close(stream);
    };
    const steps: Array<() => Promise<GenerationEvent[]>> = [
      async () => [await transition(id, 'IN_QUEUE', 3)],
      async () => [await transition(id, 'IN_QUEUE', 1)],
      async () => [await transition(id, 'IN_PROGRESS')],
      () => logs(id, 3),
      async () => [await transition(id, 'COMPLETED')],
    ];
    // The cache itself, fed the same published events, against the same read from the database after each.
    const cache = new HistoryCache((a, limit) => createGenerationStore(db).eventsAfter(id, a, limit), { events: 0, max: 1_000 });
    cache.offer((await readSubscriptionStart(db, id, 'a', 0, 500))!, 0, cache.version);
    for (const step of steps) {
      const written = await step();
      for (const event of written) {
        publish(event);
        cache.received(event);
      }
      const fromDb = (await readSubscriptionStart(db, id, 'a', 0, 500))!;
      const cached = (await cache.start(0, 'a'))!;
      expect({ ...cached, events: plain(cached.events) }).toEqual({ ...fromDb, events: plain(fromDb.events) });
      await cachedStart();
    }
    // Finished, and the caller has everything: the cached status ends the stream at once, with no read.
    reads = 0;
    expect(await take((await open(id, 7))!, 1)).toEqual([]);
    expect(reads).toBe(0);
    expect(sequences(await take(holder, 10))).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('survives a repair read: one read for the gap, however many members, then a later subscriber reads nothing', async () => {
    const id = await newGeneration();
    await transition(id, 'IN_PROGRESS');
    const members = [(await open(id))!, (await open(id))!, (await open(id))!];
    for (const member of members) expect(sequences(await take(member, 1))).toEqual([1]);
    const lines = await logs(id, 4);
    reads = 0;
    publish(lines[3]); // 2, 3 and 4 are late or lost: the gap is read once, by the cache
    for (const member of members) expect(sequences(await take(member, 4))).toEqual([2, 3, 4, 5]);
    expect(reads).toBe(1);
    for (const event of lines.slice(0, 3)) publish(event); // the late ones are dropped
    reads = 0;
    const later = (await open(id))!;
    const replay = await take(later, 5);
    expect(plain(replay)).toEqual(plain([(await createGenerationStore(database.prisma).eventsAfter(id, 0, 1))[0], ...lines]));
    expect(reads).toBe(0);
    for (const stream of [...members, later]) await close(stream);
  });

  it('looks for lost publishes with one statement per interval for every hub, and reads events only where the database is ahead', async () => {
    const ids = [await newGeneration(), await newGeneration(), await newGeneration()];
    const members = [];
    for (const id of ids) {
      publish(await transition(id, 'IN_PROGRESS'));
      const member = (await open(id, 0, 'a', 20))!;
      expect(sequences(await take(member, 1))).toEqual([1]);
      members.push(member);
    }
    const count = (name: string) => operations.filter((op) => op === name).length;
    operations.length = 0;
    // Nothing lost: every interval is one read of the three last sequences, and no event is read.
    await until('three repair intervals', () => count('Generation.findMany') >= 3, { on: [[statements, 'statement']] });
    expect(count('GenerationEvent.findMany')).toBe(0);
    expect(operations.every((op) => op === 'Generation.findMany')).toBe(true);
    // The second generation completes and its publish is lost: only its hub reads, and its member gets it.
    const lost = await transition(ids[1], 'COMPLETED');
    expect(sequences(await take(members[1], 1))).toEqual([lost.sequence]);
    expect(count('GenerationEvent.findMany')).toBe(1);
    operations.length = 0;
    await until('two more repair intervals', () => count('Generation.findMany') >= 2, { on: [[statements, 'statement']] });
    expect(count('GenerationEvent.findMany')).toBe(0);
    for (const member of members) await close(member);
  });

  it('a foreign tenant never gets a cached row: refused as by the database, with the same error', async () => {
    const id = await newGeneration('a');
    await transition(id, 'IN_QUEUE', 0);
    const schema = buildSchema();
    const document = parse(`subscription { videoGenerationEvents(id: "${id}") { sequence } }`);
    const asTenant = async (tenantId: string) => {
      const generations = {
        subscribeToEvents: async (genId: string, after: number | null) => {
          const stream = await open(genId, after ?? 0, tenantId);
          if (!stream) throw new GenerationNotFoundError(genId);
          return stream;
        },
      };
      return (await subscribe({ schema, document, contextValue: { db, caller: { tenantId }, generations } })) as ExecutionResult;
    };
    // No hub: the database refuses.
    const uncached = await asTenant('b');
    expect(uncached.errors?.[0].extensions.code).toBe('NOT_FOUND');
    const owner = (await open(id))!; // seeds the cache
    reads = 0;
    const cached = await asTenant('b');
    expect(reads).toBe(0); // answered from the cached owner
    expect(JSON.stringify(cached)).toBe(JSON.stringify(uncached));
    expect(await open(id, 0, 'b')).toBeNull();
    // An admin (no tenant) and the owner are served from the same cache.
    const admin = (await open(id, 0, null))!;
    expect(sequences(await take(admin, 1))).toEqual([1]);
    expect(reads).toBe(0);
    for (const stream of [owner, admin]) await close(stream);
  });

  it('holds the newest events within its bound; a subscriber from further back reads the database, then the cache', async () => {
    const id = await newGeneration();
    await transition(id, 'IN_PROGRESS');
    for (let i = 0; i < 3; i += 1) await logs(id, 400); // 1,201 events: more than one generation's cache holds
    reads = 0;
    const recent = (await open(id, 1_000))!; // a complete read of the newest 201: seeds the cache
    expect(sequences(await take(recent, 201))[200]).toBe(1_201);
    expect(reads).toBe(1);
    reads = 0;
    const fromStart = (await open(id))!;
    const all = await take(fromStart, 1_201);
    expect(sequences(all)).toEqual(Array.from({ length: 1_201 }, (_, i) => i + 1));
    expect(reads).toBe(2); // two pages (1-500, 501-1,000) from the database; the rest from the cache
    reads = 0;
    const again = (await open(id, 1_100))!;
    expect(sequences(await take(again, 101))[0]).toBe(1_101);
    expect(reads).toBe(0);
    for (const stream of [recent, fromStart, again]) await close(stream);
  });

  it('shares replayed events for a while, and keeps every cache of a bus within the budget without a gap', async () => {
    const id = await newGeneration();
    await transition(id, 'IN_PROGRESS');
    await logs(id, 9);
    const read = (a: number, limit: number) => createGenerationStore(db).eventsAfter(id, a, limit);
    const seed = async (cache: HistoryCache) => cache.offer((await readSubscriptionStart(db, id, 'a', 0, 500))!, 0, cache.version);
    const shared = new HistoryCache(read, { events: 0, max: 1_000 });
    await seed(shared);
    const [a, b] = [(await shared.start(0, 'a'))!, (await shared.start(0, 'a'))!];
    expect(b.events).toHaveLength(10);
    b.events.forEach((event, i) => expect(event).toBe(a.events[i])); // one LiveEvent for both replays
    const fresh = new HistoryCache(read, { events: 0, max: 1_000 }, -1); // nothing is shared past its freshness
    await seed(fresh);
    expect((await fresh.start(0, 'a'))!.events[0]).not.toBe((await fresh.start(0, 'a'))!.events[0]);

    // Two caches over a budget of 12 events: the second keeps only what fits, its newest, and still no gap.
    const budget = { events: 0, max: 12 };
    const one = new HistoryCache(read, budget);
    const two = new HistoryCache(read, budget);
    await seed(one);
    await seed(two);
    expect(budget.events).toBe(12);
    expect(sequences((await one.start(0, 'a'))!.events)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await two.start(0, 'a')).toBeUndefined(); // not held from the start: the database answers
    expect(sequences((await two.start(8, 'a'))!.events)).toEqual([9, 10]);
    const [next] = await logs(id, 1);
    two.received(next); // grows by one, drops its oldest
    expect(budget.events).toBe(12);
    expect(await two.start(8, 'a')).toBeUndefined();
    expect(sequences((await two.start(9, 'a'))!.events)).toEqual([10, 11]);
    one.drop();
    two.drop();
    expect(budget.events).toBe(0);
  });
});
