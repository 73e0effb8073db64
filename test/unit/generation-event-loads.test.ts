import { execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { carryRow, type GenerationEvent } from '../../src/generations/events.ts';
import type { WrittenRow } from '../../src/generations/generation-row.ts';
import { LiveEvents, type LiveEvent } from '../../src/generations/live-event.ts';
import { createEventLoader } from '../../src/schema/event-loader.ts';
import { buildSchema } from '../../src/schema/index.ts';

// What `generation { ... }` on live events reads: once per write batch (per selection and tenant), not once
// per event. The resolvers run as the subscription executes each event (rootValue = the LiveEvent the hub
// made, here with the hub's own maker), each execution with its own request's loader.
const SELECTION = parse('subscription { videoGenerationEvents(id: "x") { sequence generation { id status } } }');
const ID = '0190a6f2-0000-7000-8000-000000000001';

function fakeDb() {
  const reads: Array<{ where: { id: string } }> = [];
  let status = 'IN_PROGRESS';
  return {
    reads,
    setStatus: (s: string) => (status = s),
    db: {
      generation: {
        findUniqueOrThrow: (args: { where: { id: string } }) => {
          reads.push(args);
          return Promise.resolve({ id: args.where.id, status, tenantId: 'a' });
        },
      },
    },
  };
}

const log = (sequence: number, batch?: string): GenerationEvent => ({
  kind: 'LOG',
  generationId: ID,
  sequence,
  log: { sequence, message: `line ${sequence}`, level: 'INFO', timestamp: new Date(0) },
  at: new Date(0),
  ...(batch ? { batch } : {}),
});

async function resolve(event: LiveEvent | GenerationEvent, db: object, tenantId = 'a') {
  const result = await execute({
    schema: buildSchema(),
    document: SELECTION,
    rootValue: event,
    contextValue: { db, caller: { tenantId }, eventLoader: createEventLoader(db) },
  });
  expect(result.errors).toBeUndefined();
  return (result.data as { videoGenerationEvents: { sequence: number; generation: { status: string } } }).videoGenerationEvents;
}

describe('generation loads of live events', () => {
  it('reads the generation once for all lines of one write, again for the next write', async () => {
    const f = fakeDb();
    const hub = new LiveEvents();
    const batchA = `${ID}#3`;
    for (const seq of [1, 2, 3]) expect((await resolve(hub.published(log(seq, batchA)), f.db)).generation.status).toBe('IN_PROGRESS');
    expect(f.reads).toHaveLength(1);
    // A later write: never served the earlier read.
    f.setStatus('COMPLETED');
    // Fresh objects with the same batch name (each line is its own message after the bus) still share the read.
    expect((await resolve(hub.published(log(2, batchA)), f.db)).generation.status).toBe('IN_PROGRESS');
    expect((await resolve(hub.published(log(4, `${ID}#5`)), f.db)).generation.status).toBe('COMPLETED');
    expect((await resolve(hub.published(log(5, `${ID}#5`)), f.db)).generation.status).toBe('COMPLETED');
    expect(f.reads).toHaveLength(2);
  });

  it("keeps the caller's tenant and the database in the key, and events without a batch per object", async () => {
    const f = fakeDb();
    const other = fakeDb();
    const hub = new LiveEvents();
    const batch = `${ID}#9`;
    const line = hub.published(log(9, batch));
    await resolve(line, f.db, 'a');
    await resolve(line, f.db, 'b');
    await resolve(line, other.db, 'a');
    expect(f.reads).toHaveLength(2);
    expect(other.reads).toHaveLength(1);
    const unbatched = hub.published(log(1));
    await resolve(unbatched, f.db);
    await resolve(unbatched, f.db);
    await resolve(hub.published(log(1)), f.db);
    expect(f.reads).toHaveLength(4);
    // A history page read for one subscriber shares one read; a plain object (not a LiveEvent) shares nothing
    // beyond its own request.
    for (const event of hub.read([log(1), log(2), log(3)])) await resolve(event, f.db);
    expect(f.reads).toHaveLength(5);
    const plain = log(1);
    await resolve(plain, f.db);
    await resolve(plain, f.db);
    expect(f.reads).toHaveLength(7);
  });
});

describe('generation loads answered by the row a write carried', () => {
  const row = {
    id: ID,
    tenantId: 'a',
    status: 'IN_PROGRESS',
    queuePosition: null,
    shotType: 'customize',
  } as unknown as WrittenRow;
  const carried = (sequence: number) => carryRow(log(sequence, `${ID}#${sequence}`), row);
  const load = async (event: GenerationEvent, query: object, tenantId = 'a') => {
    const f = fakeDb();
    const loader = createEventLoader(f.db);
    const got = await loader.generation(event, query, tenantId, () => f.db.generation.findUniqueOrThrow({ where: { id: ID } }));
    return { got, reads: f.reads.length };
  };

  it('answers a query of scalar columns only from the row, as Prisma would (a select gets only its columns)', async () => {
    expect(await load(carried(1), {})).toEqual({ got: row, reads: 0 });
    expect(await load(carried(2), { include: {} })).toEqual({ got: row, reads: 0 });
    expect(await load(carried(3), { select: { id: true, status: true, shotType: false } })).toEqual({
      got: { id: ID, status: 'IN_PROGRESS' },
      reads: 0,
    });
  });

  it('reads for a relation, a count, a column the row lacks, another argument, or another tenant', async () => {
    for (const query of [
      { include: { video: true } },
      { include: { events: { where: { kind: 'LOG' } } } },
      { include: { _count: { select: { events: true } } } },
      { select: { id: true, video: true } },
      { select: { id: true, events: { take: 1 } } },
      { select: { id: true, falInput: true } },
      { omit: { prompt: true } },
    ]) {
      expect({ query, reads: (await load(carried(1), query)).reads }).toEqual({ query, reads: 1 });
    }
    expect((await load(carried(1), {}, 'b')).reads).toBe(1);
  });
});
