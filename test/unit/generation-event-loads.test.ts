import { execute, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { GenerationEvent } from '../../src/generations/events.ts';
import { buildSchema } from '../../src/schema/index.ts';

// What `generation { ... }` on live events reads: once per write batch (per selection and tenant), not once
// per event. The resolvers run as the subscription executes each event (rootValue = the event).
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

async function resolve(event: GenerationEvent, db: object, tenantId = 'a') {
  const result = await execute({
    schema: buildSchema(),
    document: SELECTION,
    rootValue: event,
    contextValue: { db, caller: { tenantId } },
  });
  expect(result.errors).toBeUndefined();
  return (result.data as { videoGenerationEvents: { sequence: number; generation: { status: string } } }).videoGenerationEvents;
}

describe('generation loads of live events', () => {
  it('reads the generation once for all lines of one write, again for the next write', async () => {
    const f = fakeDb();
    const batchA = `${ID}#3`;
    for (const seq of [1, 2, 3]) expect((await resolve(log(seq, batchA), f.db)).generation.status).toBe('IN_PROGRESS');
    expect(f.reads).toHaveLength(1);
    // A later write: never served the earlier read.
    f.setStatus('COMPLETED');
    // Fresh objects with the same batch name (as after the bus, one per hub) still share the read.
    expect((await resolve(log(2, batchA), f.db)).generation.status).toBe('IN_PROGRESS');
    expect((await resolve(log(4, `${ID}#5`), f.db)).generation.status).toBe('COMPLETED');
    expect((await resolve(log(5, `${ID}#5`), f.db)).generation.status).toBe('COMPLETED');
    expect(f.reads).toHaveLength(2);
  });

  it("keeps the caller's tenant and the database in the key, and events without a batch per object", async () => {
    const f = fakeDb();
    const other = fakeDb();
    const batch = `${ID}#9`;
    await resolve(log(9, batch), f.db, 'a');
    await resolve(log(9, batch), f.db, 'b');
    await resolve(log(9, batch), other.db, 'a');
    expect(f.reads).toHaveLength(2);
    expect(other.reads).toHaveLength(1);
    const history = log(1);
    await resolve(history, f.db);
    await resolve(history, f.db);
    await resolve(log(1), f.db);
    expect(f.reads).toHaveLength(4);
  });
});
