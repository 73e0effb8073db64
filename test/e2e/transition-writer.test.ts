import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.ts';
import type { GenerationEvent } from '../../src/generations/events.ts';
import { WRITTEN_COLUMNS, type WrittenRow } from '../../src/generations/generation-row.ts';
import type { GenerationStatus } from '../../src/generations/status.ts';
import { sqlRunner, TRANSITION_SQL, type RunSql } from '../../src/generations/store-sql.ts';
import { createGenerationStore } from '../../src/generations/store.ts';
import { TRANSITIONS_SQL } from '../../src/generations/transition-sql.ts';
import { createTransitionWriter } from '../../src/generations/transition-writer.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { insertGeneration } from '../helpers/rows.ts';

// Coalesced status changes on a real database (PGlite, or PostgreSQL with TEST_DATABASE=postgres): many
// generations' changes in one statement, each with its own guard, fence and answer.
let db: Database;
let dispose: () => Promise<void>;
beforeAll(async () => {
  ({ db, dispose } = await createTestDatabase());
});
afterAll(() => dispose?.());

const newGeneration = (
  data: {
    status?: GenerationStatus;
    leaseOwner?: string | null;
    falRequestId?: string | null;
    queuePosition?: number | null;
    createdAt?: Date;
  } = {},
) =>
  insertGeneration(db.prisma, {
    status: data.status ?? 'IN_QUEUE',
    leaseOwner: data.leaseOwner ?? null,
    falRequestId: data.falRequestId === undefined ? `req-${randomUUID()}` : data.falRequestId,
    queuePosition: data.queuePosition ?? null,
    ...(data.createdAt ? { createdAt: data.createdAt } : {}),
  });

/** The driver's (or Prisma's) runner, with every statement it runs recorded as 'one' or 'many'. */
function counted(sql: boolean) {
  const base = sqlRunner(db.prisma, sql ? db : undefined);
  const statements: Array<'one' | 'many'> = [];
  const run: RunSql = (text, params) => {
    statements.push(text === TRANSITIONS_SQL ? 'many' : text === TRANSITION_SQL ? 'one' : (text as never));
    return base(text, params);
  };
  return { statements, run };
}

/** The status an answer reports (null for a refused change). */
const statusOf = (event: GenerationEvent | null | undefined) => (event?.kind === 'STATUS' ? event.status : null);
const row = (id: string) => db.prisma.generation.findUniqueOrThrow({ where: { id } });
const events = (id: string) => db.prisma.generationEvent.findMany({ where: { generationId: id }, orderBy: { sequence: 'asc' } });

describe.each([
  { path: 'the driver', sql: true },
  { path: 'Prisma', sql: false },
])('coalesced transitions on $path', ({ sql }) => {
  it('writes the changes of many generations asked for at once in one statement, each with its own event', async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const ids = await Promise.all(Array.from({ length: 30 }, () => newGeneration()));
    const before = await Promise.all(ids.map(row));
    const results = await Promise.all(ids.map((id) => writer.transition(id, 'IN_PROGRESS')));
    expect(statements).toEqual(['many']);
    for (const [i, id] of ids.entries()) {
      const event = results[i];
      expect(event).toMatchObject({ kind: 'STATUS', generationId: id, status: 'IN_PROGRESS', sequence: before[i].lastSequence + 1 });
      const after = await row(id);
      expect(after.status).toBe('IN_PROGRESS');
      expect(after.lastSequence).toBe(before[i].lastSequence + 1);
      expect(after.startedAt?.getTime()).toBe(event!.at.getTime());
      expect(after.completedAt).toBeNull();
      const stored = await events(id);
      expect(stored.map((e) => [e.sequence, e.kind, e.status, e.createdAt.getTime()])).toEqual([
        [event!.sequence, 'STATUS', 'IN_PROGRESS', event!.at.getTime()],
      ]);
    }
  });

  it('hands back, on each event of a coalesced write, the row that write left (as Prisma reads it)', async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const ids = await Promise.all(Array.from({ length: 5 }, () => newGeneration()));
    const results = await Promise.all(ids.map((id) => writer.transition(id, 'IN_PROGRESS')));
    expect(statements).toEqual(['many']);
    for (const [i, id] of ids.entries()) {
      const carried = results[i]?.row;
      expect(carried).toBeDefined();
      const read = await row(id);
      for (const column of WRITTEN_COLUMNS) expect(carried![column as keyof WrittenRow], column).toEqual(read[column as keyof typeof read]);
    }
  });

  it('refuses per row: a change its row is past, a repeated one and a rising queue position get null and write nothing', async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const queued = await newGeneration({ status: 'IN_QUEUE', queuePosition: 5 });
    const rising = await newGeneration({ status: 'IN_QUEUE', queuePosition: 5 });
    const done = await newGeneration({ status: 'COMPLETED' });
    const running = await newGeneration({ status: 'IN_PROGRESS' });
    const pending = await newGeneration({ status: 'PENDING' });
    const started = await newGeneration({ status: 'IN_PROGRESS' });
    const [falling, rose, late, again, cancelled, notYet] = await Promise.all([
      writer.transition(queued, 'IN_QUEUE', { queuePosition: 2 }),
      writer.transition(rising, 'IN_QUEUE', { queuePosition: 7 }),
      writer.transition(done, 'IN_PROGRESS'),
      writer.transition(running, 'IN_PROGRESS'),
      writer.transition(pending, 'CANCELLED', { onlyFrom: ['PENDING', 'IN_QUEUE'], error: { code: 'CANCELLED', message: 'by the user' } }),
      // onlyFrom narrows per row too: this one may start only from PENDING, and the row is IN_PROGRESS.
      writer.transition(started, 'CANCELLED', { onlyFrom: ['PENDING'] }),
    ]);
    expect(statements).toEqual(['many']);
    expect(falling).toMatchObject({ status: 'IN_QUEUE', queuePosition: 2 });
    expect([rose, late, again, notYet]).toEqual([null, null, null, null]);
    expect(cancelled).toMatchObject({ status: 'CANCELLED' });
    expect((await row(queued)).queuePosition).toBe(2);
    expect(await row(rising)).toMatchObject({ status: 'IN_QUEUE', queuePosition: 5, lastSequence: 0 });
    expect(await row(done)).toMatchObject({ status: 'COMPLETED', lastSequence: 0 });
    expect(await row(running)).toMatchObject({ status: 'IN_PROGRESS', lastSequence: 0, startedAt: null });
    expect(await row(pending)).toMatchObject({ status: 'CANCELLED', errorCode: 'CANCELLED', errorMessage: 'by the user' });
    expect((await row(started)).status).toBe('IN_PROGRESS');
    for (const id of [rising, done, running, started]) expect(await events(id)).toEqual([]);
  });

  it('fences each row by its own lease owner', async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const ours = await newGeneration({ leaseOwner: 'instance-a' });
    const theirs = await newGeneration({ leaseOwner: 'instance-b' });
    const unleased = await newGeneration({ leaseOwner: null });
    const unfenced = await newGeneration({ leaseOwner: 'instance-b' });
    const results = await Promise.all([
      writer.transition(ours, 'IN_PROGRESS', { leaseOwner: 'instance-a' }),
      writer.transition(theirs, 'IN_PROGRESS', { leaseOwner: 'instance-a' }),
      writer.transition(unleased, 'IN_PROGRESS', { leaseOwner: 'instance-a' }),
      // No owner given: not fenced (cancel, the deadline, a failed submit write this way).
      writer.transition(unfenced, 'FAILED', { error: { code: 'X', message: 'x' } }),
    ]);
    expect(statements).toEqual(['many']);
    expect(results.map(statusOf)).toEqual(['IN_PROGRESS', null, null, 'FAILED']);
    expect((await row(theirs)).status).toBe('IN_QUEUE');
    expect((await row(unleased)).status).toBe('IN_QUEUE');
    expect(await events(theirs)).toEqual([]);
  });

  it("applies the orphan guard per row: only a row still without fal's request id and old enough", async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const old = new Date(Date.now() - 3_600_000);
    const orphan = await newGeneration({ status: 'PENDING', falRequestId: null, createdAt: old });
    const matched = await newGeneration({ status: 'PENDING', falRequestId: `req-late-${randomUUID()}`, createdAt: old });
    const young = await newGeneration({ status: 'PENDING', falRequestId: null });
    const verdict = { error: { code: 'ORPHANED', message: 'never reached fal' }, unsubmittedForSeconds: 600 };
    const results = await Promise.all([orphan, matched, young].map((id) => writer.transition(id, 'FAILED', verdict)));
    expect(statements).toEqual(['many']);
    expect(results.map(statusOf)).toEqual(['FAILED', null, null]);
    expect(await row(orphan)).toMatchObject({ status: 'FAILED', errorCode: 'ORPHANED' });
    expect((await row(matched)).status).toBe('PENDING');
    expect((await row(young)).status).toBe('PENDING');
  });

  it("keeps a generation's changes in the order asked for, one per statement, while others share them", async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const a = await newGeneration();
    const b = await newGeneration();
    const c = await newGeneration();
    const video = { sourceUrl: 'https://cdn.example/a.mp4', contentType: 'video/mp4', fileName: 'a.mp4', fileSize: 1234 };
    const [aStart, aDone, bStart, cDone, cStartLate] = await Promise.all([
      writer.transition(a, 'IN_PROGRESS'),
      writer.transition(a, 'COMPLETED', { video }),
      writer.transition(b, 'IN_PROGRESS'),
      // c completes first; its late IN_PROGRESS (asked for after) is refused: status only moves forward.
      writer.transition(c, 'COMPLETED', { video: { ...video, sourceUrl: 'https://cdn.example/c.mp4' } }),
      writer.transition(c, 'IN_PROGRESS'),
    ]);
    expect(statements).toEqual(['many', 'many']);
    expect([aStart?.sequence, aDone?.sequence]).toEqual([1, 2]);
    expect(statusOf(bStart)).toBe('IN_PROGRESS');
    expect(statusOf(cDone)).toBe('COMPLETED');
    expect(cStartLate).toBeNull();
    expect((await events(a)).map((e) => e.status)).toEqual(['IN_PROGRESS', 'COMPLETED']);
    expect((await events(c)).map((e) => e.status)).toEqual(['COMPLETED']);
    const aRow = await row(a);
    expect(aRow.startedAt).not.toBeNull();
    expect(aRow.completedAt?.getTime()).toBe(aDone!.at.getTime());
    const outputs = await db.prisma.videoOutput.findMany({ where: { generationId: { in: [a, b, c] } }, orderBy: { sourceUrl: 'asc' } });
    expect(outputs.map((o) => [o.generationId, o.sourceUrl, o.contentType, o.fileName, o.fileSize])).toEqual([
      [a, 'https://cdn.example/a.mp4', 'video/mp4', 'a.mp4', 1234],
      [c, 'https://cdn.example/c.mp4', 'video/mp4', 'a.mp4', 1234],
    ]);
  });

  it("one change's failure is its own: a bad value fails that change only, the others are written", async () => {
    const { statements, run } = counted(sql);
    const writer = createTransitionWriter(run);
    const ok1 = await newGeneration();
    const bad = await newGeneration();
    const ok2 = await newGeneration();
    // A size past the column's range makes the whole statement fail; each change is then written on its own.
    const huge = { sourceUrl: 'https://cdn.example/huge.mp4', contentType: 'video/mp4', fileName: 'huge.mp4', fileSize: 2 ** 40 };
    const settled = await Promise.allSettled([
      writer.transition(ok1, 'IN_PROGRESS'),
      writer.transition(bad, 'COMPLETED', { video: huge }),
      writer.transition(ok2, 'FAILED', { error: { code: 'E', message: 'e' } }),
    ]);
    expect(statements).toEqual(['many', 'one', 'one', 'one']);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(statusOf((settled[0] as PromiseFulfilledResult<GenerationEvent | null>).value)).toBe('IN_PROGRESS');
    expect(statusOf((settled[2] as PromiseFulfilledResult<GenerationEvent | null>).value)).toBe('FAILED');
    expect((await row(ok1)).status).toBe('IN_PROGRESS');
    expect((await row(ok2)).status).toBe('FAILED');
    expect(await row(bad)).toMatchObject({ status: 'IN_QUEUE', lastSequence: 0 });
    expect(await events(bad)).toEqual([]);
    // The writer goes on: a later change of the same generation is written.
    expect(statusOf(await writer.transition(bad, 'IN_PROGRESS'))).toBe('IN_PROGRESS');
  });

  it('the store writes its transitions through the writer: a lone change alone, changes at once together', async () => {
    const store = createGenerationStore(db.prisma, sql ? { sql: db } : {});
    const ids = await Promise.all(Array.from({ length: 5 }, () => newGeneration({ leaseOwner: 'me' })));
    const lone = await store.transition(ids[0], 'IN_PROGRESS', { leaseOwner: 'me' });
    expect(lone).toMatchObject({ generationId: ids[0], status: 'IN_PROGRESS', sequence: 1 });
    const many = await Promise.all(ids.map((id) => store.transition(id, 'IN_PROGRESS', { leaseOwner: 'me' })));
    expect(many.map((e) => e?.sequence ?? null)).toEqual([null, 1, 1, 1, 1]);
    for (const id of ids) expect((await row(id)).status).toBe('IN_PROGRESS');
  });
});
