import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import { createPublish } from '../../src/generations/context.ts';
import { createGenerationEmitter } from '../../src/generations/event-map.ts';
import type { GenerationEventMessage } from '../../src/generations/events.ts';
import { joinHub } from '../../src/generations/hub.ts';
import type { LiveEvent } from '../../src/generations/live-event.ts';
import { createGenerationStore, type NewLogLine } from '../../src/generations/store.ts';
import { createEventBus, topics, type EventBus } from '../../src/pubsub/index.ts';
import { createRedisTarget } from '../../src/pubsub/redis.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { until } from '../helpers/until.ts';
import { insertGeneration } from '../helpers/rows.ts';

// One write's events cross Redis as ONE message, and every listener on another instance still gets each event,
// in order, without a gap. Real Redis, real database (PGlite, or PostgreSQL with TEST_DATABASE=postgres).
let db: Database;
let dispose: () => Promise<void>;
let redis: TestRedis;
const closers: Array<() => void | Promise<void>> = [];
const prefix = `reelgraph-test-${randomBytes(4).toString('hex')}:`;

beforeAll(async () => {
  redis = await startRedis();
  ({ db, dispose } = await createTestDatabase());
}, 60_000);
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await redis?.stop();
  await dispose?.();
});

/** One instance's bus over the test's Redis (its own two connections, as app.ts makes them). */
async function instanceBus(): Promise<EventBus> {
  const target = await createRedisTarget(redis.url);
  closers.push(() => target.close());
  return createEventBus(target.target, prefix);
}

/** A raw subscriber that counts the messages Redis carries on a channel. */
async function countMessages(channel: string) {
  const client = new Redis(redis.url, { lazyConnect: true });
  await client.connect();
  closers.push(() => client.disconnect());
  const messages: string[] = [];
  client.on('message', (ch: string, message: string) => {
    if (ch === channel) messages.push(message);
  });
  await client.subscribe(channel);
  return messages;
}

const newGeneration = () => insertGeneration(db.prisma, { status: 'IN_PROGRESS' });

const lines = (n: number): NewLogLine[] =>
  Array.from({ length: n }, (_, i) => ({ message: `line ${i + 1}`, level: 'INFO', timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) }));

describe('one bus message per write', () => {
  it('publishes the N lines of one write as one Redis message, and another instance gets all N in order', async () => {
    const writer = await instanceBus();
    const reader = await instanceBus();
    const store = createGenerationStore(db.prisma);
    const id = await newGeneration();
    const onWire = await countMessages(prefix + topics.generationEvents(id));

    // Another instance's listeners: a plain bus subscriber and the hub that feeds its subscriptions.
    const received: GenerationEventMessage[] = [];
    const unsubscribe = reader.subscribe<GenerationEventMessage>(topics.generationEvents(id), (m) => received.push(m));
    closers.push(unsubscribe);
    const delivered: LiveEvent[] = [];
    const member = joinHub(reader, store, id, { repairMs: 60_000 }, (event) => delivered.push(event));
    closers.push(() => member.leave());
    // SUBSCRIBE is asynchronous in Redis: wait until both instances' subscriptions are live.
    const admin = new Redis(redis.url);
    closers.push(() => admin.disconnect());
    await until('the reader is subscribed', async () => {
      const [, n] = (await admin.pubsub('NUMSUB', prefix + topics.generationEvents(id))) as [string, number];
      return Number(n) >= 2;
    });

    const publish = createPublish(
      { bus: writer },
      createGenerationEmitter(() => {}),
    );
    const events = await store.appendLogs(id, lines(25));
    expect(events).toHaveLength(25);
    publish('tenant-a')(events);

    await until('every line reached the other instance', () => {
      if (received.length !== 25 || delivered.length !== 25)
        throw new Error(`on the wire ${onWire.length}, received ${received.length}, delivered ${delivered.length}`);
      return true;
    });
    expect(onWire).toHaveLength(1);
    expect(received.map((m) => m.sequence)).toEqual(events.map((e) => e.sequence));
    expect(received.map((m) => (m.kind === 'LOG' ? m.log.message : ''))).toEqual(lines(25).map((l) => l.message));
    expect(delivered.map((e) => e.sequence)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // The lines of one write still share one batch memo on the receiving side (one generation read per write).
    expect(new Set(delivered.map((e) => e.batchMemo)).size).toBe(1);

    // A second write is a second message, after the first: still gap-free across both.
    const more = await store.appendLogs(id, lines(3));
    publish('tenant-a')(more);
    await until('the second write arrived', () => delivered.length === 28);
    expect(onWire).toHaveLength(2);
    expect(delivered.map((e) => e.sequence)).toEqual(Array.from({ length: 28 }, (_, i) => i + 1));
  });

  it('sends a single payload as itself, and a listener that throws still lets the rest of a batch through', async () => {
    const bus = createEventBus();
    const seen: number[] = [];
    bus.subscribe<number>('t', (n) => {
      seen.push(n);
      if (n === 2) throw new Error('listener failure');
    });
    bus.publish('t', 1);
    // EventTarget reports a throwing listener on the process, not to the publisher.
    const reported = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    bus.publishMany('t', [2, 3, 4]);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(String(await reported)).toContain('listener failure');
    bus.publishMany('t', []);
    expect(seen).toEqual([1, 2, 3, 4]);
  });
});
