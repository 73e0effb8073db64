import { carryRow, type GenerationEvent } from './events.ts';
import { rowFromJson, type RowJson } from './generation-row.ts';
import { ALLOWED_FROM, type GenerationStatus } from './status.ts';
import type { TransitionDetails } from './store.ts';
import { type RunSql, TRANSITION_SQL } from './store-sql.ts';
import { TRANSITIONS_SQL } from './transition-sql.ts';
import { createCoalescer } from './coalesce.ts';

/** One status change as written: the call's details resolved to the statement's values. */
interface Request {
  id: string;
  to: GenerationStatus;
  queuePosition: number | null;
  /** The write time: the moment the change was asked for, as with one statement per change. */
  at: Date;
  from: readonly GenerationStatus[];
  details: TransitionDetails;
  resolve: (event: GenerationEvent | null) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces status changes as the log writer (log-writer.ts) coalesces log lines: every change asked for while a
 * write is in flight (or in the same turn of the event loop) goes into the next write, one statement for many
 * generations (TRANSITIONS_SQL). Without it, a release of many requests at once at fal (or their completion)
 * costs one statement per generation, all at the same moment, and the log lines behind them wait for all of
 * them; the profile of 1,000 generations started together showed exactly that burst.
 *
 * Each change keeps its own guard, fence and write time, and gets its own answer: its event, or null when the
 * guard refused. A lone change is written with TRANSITION_SQL, as before. A generation appears at most once per
 * write (an UPDATE changes a row once per statement), and one write runs at a time, so a generation's changes
 * are written in the order they were asked for. When a write of several fails (a bad value in one of them, a
 * deadlock), each is written again on its own, so one change's failure is never another's.
 */
export function createTransitionWriter(run: RunSql, options: { maxBatch?: number } = {}) {
  async function writeOne(request: Request): Promise<void> {
    const { to, details } = request;
    const video = details.video ?? null;
    const rows = await run<{ sequence: number; row: RowJson }>(TRANSITION_SQL, [
      to,
      request.queuePosition,
      request.at.toISOString(),
      to === 'IN_PROGRESS',
      isTerminal(to),
      details.error?.code ?? null,
      details.error?.message ?? null,
      request.id,
      request.from,
      details.leaseOwner ?? null,
      details.unsubmittedForSeconds ?? null,
      video?.sourceUrl ?? null,
      video?.contentType ?? null,
      video?.fileName ?? null,
      video?.fileSize ?? null,
      video !== null,
    ]);
    request.resolve(rows.length === 0 ? null : eventOf(request, Number(rows[0].sequence), rows[0].row));
  }

  async function writeMany(batch: Request[]): Promise<void> {
    // Rows are locked in id order, as the log writer's and the lease renewal's multi-row writes lock them, so
    // this statement and a concurrent log write never wait for each other in a cycle (a deadlock).
    const sorted = [...batch].sort((a, b) =>
      a.id.toLowerCase() < b.id.toLowerCase() ? -1 : a.id.toLowerCase() > b.id.toLowerCase() ? 1 : 0,
    );
    const column = <T>(f: (request: Request) => T): T[] => sorted.map(f);
    const rows = await run<{ id: string; sequence: number; row: RowJson }>(TRANSITIONS_SQL, [
      column((r) => r.id),
      column((r) => r.to),
      column((r) => r.queuePosition),
      column((r) => r.at.toISOString()),
      column((r) => r.to === 'IN_PROGRESS'),
      column((r) => isTerminal(r.to)),
      column((r) => r.details.error?.code ?? null),
      column((r) => r.details.error?.message ?? null),
      column((r) => r.from.join(',')),
      column((r) => r.details.leaseOwner ?? null),
      column((r) => r.details.unsubmittedForSeconds ?? null),
      column((r) => r.details.video?.sourceUrl ?? null),
      column((r) => r.details.video?.contentType ?? null),
      column((r) => r.details.video?.fileName ?? null),
      column((r) => r.details.video?.fileSize ?? null),
      column((r) => r.details.video !== undefined),
    ]);
    const written = new Map(rows.map((row) => [row.id, row]));
    for (const request of batch) {
      const row = written.get(request.id.toLowerCase());
      request.resolve(row === undefined ? null : eventOf(request, Number(row.sequence), row.row));
    }
  }

  const alone = (request: Request) => writeOne(request).catch(request.reject);

  const queue = createCoalescer<Request>({
    max: Math.max(1, options.maxBatch ?? 1_000),
    weight: () => 1,
    async write(batch) {
      if (batch.length === 1) return alone(batch[0]);
      // Nothing of a failed statement was committed, so each change can be asked for again on its own.
      await writeMany(batch).catch(() => Promise.all(batch.map(alone)));
    },
  });

  return {
    /** Moves a generation to `to` (guarded, see store.transition); its STATUS event, or null when refused. */
    transition(id: string, to: GenerationStatus, details: TransitionDetails = {}): Promise<GenerationEvent | null> {
      return new Promise<GenerationEvent | null>((resolve, reject) =>
        queue.push({
          id,
          to,
          queuePosition: to === 'IN_QUEUE' ? (details.queuePosition ?? null) : null,
          at: new Date(),
          from: details.onlyFrom ?? ALLOWED_FROM[to],
          details,
          resolve,
          reject,
        }),
      );
    },
  };
}

export type TransitionWriter = ReturnType<typeof createTransitionWriter>;

const isTerminal = (to: GenerationStatus) => to === 'COMPLETED' || to === 'FAILED' || to === 'CANCELLED';

/** The change's STATUS event, carrying the row its write left (see GenerationEvent.row). */
function eventOf(request: Request, sequence: number, row: RowJson): GenerationEvent {
  const event: GenerationEvent = {
    kind: 'STATUS',
    generationId: request.id,
    sequence,
    status: request.to,
    queuePosition: request.queuePosition,
    at: request.at,
  };
  return carryRow(event, rowFromJson(row));
}
