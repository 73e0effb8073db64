import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import type { FalGateway, FalStatus } from '../../src/fal/types.ts';
import type { GenerationEvent } from '../../src/generations/events.ts';
import { createGenerationStore } from '../../src/generations/store.ts';

import { createTestDatabase } from '../helpers/db.ts';
import { insertGeneration } from '../helpers/rows.ts';
import { followGeneration } from '../helpers/tracker.ts';

// What one upstream report costs in statements: a stream's reports are IN_PROGRESS with their new lines, and only
// the first may move the generation (PGlite, or PostgreSQL with TEST_DATABASE=postgres).
let db: Database;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ db, dispose } = await createTestDatabase());
});
afterAll(() => dispose?.());

const report = (n: number): FalStatus => ({
  status: 'IN_PROGRESS',
  logs: [{ message: `line ${n}`, level: 'INFO', timestamp: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000000` }],
});

describe('a stream of IN_PROGRESS reports', () => {
  it('writes IN_PROGRESS once, then only lines: every line once, in order, without a gap', async () => {
    const id = await insertGeneration(db.prisma, { status: 'IN_QUEUE', falRequestId: 'req-1' });
    const store = createGenerationStore(db.prisma);
    const transitions: string[] = [];
    const counted = {
      ...store,
      transition: (...args: Parameters<typeof store.transition>) => {
        transitions.push(args[1]);
        return store.transition(...args);
      },
    };
    const published: GenerationEvent[] = [];
    const stop = new AbortController();
    // Three network chunks of reports, then the stream ends (dropped: the tracker would poll, we stop it there).
    const chunks = [[report(1)], [report(2), report(3)], [report(4), report(5), report(6)]];
    const fal = {
      status: () => Promise.resolve({ status: 'IN_PROGRESS', logs: [] } satisfies FalStatus),
      async streamStatus(_endpoint: string, _request: string, onStatuses: (statuses: FalStatus[]) => Promise<void>) {
        for (const chunk of chunks) await onStatuses(chunk);
        stop.abort();
        return chunks.at(-1)!.at(-1)!;
      },
    } as unknown as FalGateway;
    await followGeneration(fal, counted, stop.signal, { id, publish: (events) => published.push(...events) });
    expect(transitions).toEqual(['IN_PROGRESS']);
    expect(published.map((e) => (e.kind === 'LOG' ? e.log.message : e.status))).toEqual([
      'IN_PROGRESS',
      ...Array.from({ length: 6 }, (_, i) => `line ${i + 1}`),
    ]);
    const first = published[0].sequence;
    expect(published.map((e) => e.sequence)).toEqual(Array.from({ length: 7 }, (_, i) => first + i));
    const rows = await db.prisma.generationEvent.findMany({
      where: { generationId: id, sequence: { gte: first } },
      orderBy: { sequence: 'asc' },
    });
    expect(rows.map((r) => [r.sequence, r.logMessage ?? r.status])).toEqual(
      published.map((e) => [e.sequence, e.kind === 'LOG' ? e.log.message : e.status]),
    );
  });

  it("stores a line PostgreSQL refuses as fal sent it (NUL, an unpaired surrogate) with U+FFFD, and every other generation's lines of the same write", async () => {
    const ids = [
      await insertGeneration(db.prisma, { status: 'IN_PROGRESS', falRequestId: 'req-bad' }),
      await insertGeneration(db.prisma, { status: 'IN_PROGRESS', falRequestId: 'req-good' }),
    ];
    // The driver path, as the app writes: both trackers' lines are coalesced into shared statements.
    const store = createGenerationStore(db.prisma, { sql: db });
    const lines: Record<string, string[]> = {
      'req-bad': ['nul \u0000 here', 'lone \udc00 surrogate', 'fine'],
      'req-good': ['good 1', 'good 2', 'good 3'],
    };
    const reportOf = (message: string, n: number): FalStatus => ({
      status: 'IN_PROGRESS',
      logs: [{ message, level: 'INFO', timestamp: `2026-01-01T00:00:0${n}.000000` }],
    });
    const track = (id: string, request: string) => {
      const stop = new AbortController();
      const fal = {
        status: () => Promise.resolve({ status: 'IN_PROGRESS', logs: [] } satisfies FalStatus),
        async streamStatus(_endpoint: string, _request: string, onStatuses: (statuses: FalStatus[]) => Promise<void>) {
          for (const [n, message] of lines[request].entries()) await onStatuses([reportOf(message, n + 1)]);
          stop.abort();
          return null;
        },
      } as unknown as FalGateway;
      return followGeneration(fal, store, stop.signal, { id, falRequestId: request });
    };
    await Promise.all([track(ids[0], 'req-bad'), track(ids[1], 'req-good')]);
    const stored = async (id: string) =>
      (await db.prisma.generationEvent.findMany({ where: { generationId: id, kind: 'LOG' }, orderBy: { sequence: 'asc' } })).map(
        (row) => row.logMessage,
      );
    expect(await stored(ids[0])).toEqual(['nul \uFFFD here', 'lone \uFFFD surrogate', 'fine']);
    expect(await stored(ids[1])).toEqual(['good 1', 'good 2', 'good 3']);
  });
});
