import type { Prisma, PrismaClient, SqlSession } from '../db/index.ts';
import { carryRow, type GenerationEvent, type GenerationLogLine } from './events.ts';
import { rowFromJson, type RowJson } from './generation-row.ts';
import { createLogWriter, type LogAppend } from './log-writer.ts';
import type { MetricsSink } from '../metrics/types.ts';
import { APPEND_LOGS_SQL, sqlRunner } from './store-sql.ts';
import type { GenerationStatus } from './status.ts';
import { createTransitionWriter } from './transition-writer.ts';

export interface NewLogLine {
  message: string;
  level: string;
  timestamp: Date;
}

export interface TransitionDetails {
  queuePosition?: number | null;
  error?: { code: string; message: string };
  video?: { sourceUrl: string; contentType: string | null; fileName: string | null; fileSize: number | null };
  /** Narrows the states the transition may start from (e.g. cancel applies only before fal starts). */
  onlyFrom?: GenerationStatus[];
  /**
   * Fencing token: the write applies only while this instance holds the tracking lease, so a tracker that
   * lost its lease (and has not noticed yet) cannot write next to the new holder.
   */
  leaseOwner?: string;
  /**
   * Orphan guard: the write applies only while fal's request id is still unknown and the row is older than
   * this many seconds (on the database's clock), so an orphan verdict can never land on a row that a webhook
   * or a late submit has just matched, and of several instances judging it at once exactly one wins.
   */
  unsubmittedForSeconds?: number;
}

/**
 * Every write to a generation's state. Each transition is one guarded, idempotent write: it only applies
 * from the states in ALLOWED_FROM, and it allocates the event's sequence number in the same transaction
 * that inserts the event, so the event log has no gaps and no duplicates whoever writes.
 */
export function createGenerationStore(
  db: PrismaClient,
  options: {
    maxLinesPerLogWrite?: number;
    metrics?: MetricsSink;
    /** the driver under Prisma, for the hot statements */ sql?: SqlSession;
  } = {},
) {
  const run = sqlRunner(db, options.sql);
  /**
   * Appends the lines of many generations in ONE statement: the guarded sequence allocation of each
   * generation (active, and fenced by its leaseOwner when one is given) and the inserts of all lines commit
   * together or not at all. A generation that is finished or fenced off gets nothing; the others are
   * unaffected. Each generation may appear at most once (an UPDATE changes a row once per statement).
   * Returns the events written, per request (empty for a request that was refused).
   */
  async function appendLogsMany(requests: LogAppend[]): Promise<GenerationEvent[][]> {
    const live = requests.filter((r) => r.lines.length > 0);
    if (live.length === 0) return requests.map(() => []);
    if (new Set(live.map((r) => r.id.toLowerCase())).size !== live.length)
      throw new Error('appendLogsMany: a generation appears twice in one batch');
    // Rows are locked in id order, as other multi-row writes (lease renewal) do, so two such statements
    // never wait for each other in a cycle.
    const sorted = [...live].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const now = new Date();
    const lineGen: string[] = [];
    const ords: number[] = [];
    const messages: string[] = [];
    const levels: string[] = [];
    const stamps: string[] = [];
    for (const r of sorted) {
      r.lines.forEach((line, i) => {
        lineGen.push(r.id);
        ords.push(i + 1);
        messages.push(line.message);
        levels.push(line.level);
        stamps.push(line.timestamp.toISOString());
      });
    }
    const rows = await run<{ id: string; base: number; row: RowJson }>(APPEND_LOGS_SQL, [
      sorted.map((r) => r.id),
      sorted.map((r) => r.lines.length),
      sorted.map((r) => r.leaseOwner),
      now.toISOString(),
      lineGen,
      ords,
      messages,
      levels,
      stamps,
    ]);
    const written = new Map(rows.map((row) => [row.id, row]));
    return requests.map((r) => {
      const result = written.get(r.id.toLowerCase());
      if (result === undefined || r.lines.length === 0) return [];
      const base = Number(result.base);
      // Shared by the events of this write: resolvers read the generation once per write, not once per line (and
      // not at all where the row this write returned answers them, see carryRow).
      const batch = `${r.id}#${base + r.lines.length}`;
      const row = rowFromJson(result.row);
      return r.lines.map((line, i) =>
        carryRow<GenerationEvent>(
          {
            kind: 'LOG',
            generationId: r.id,
            sequence: base + i + 1,
            log: { sequence: base + i + 1, message: line.message, level: line.level, timestamp: line.timestamp },
            at: now,
            batch,
          },
          row,
        ),
      );
    });
  }

  const writer = createLogWriter(appendLogsMany, { maxLines: options.maxLinesPerLogWrite, metrics: options.metrics });
  const transitions = createTransitionWriter(run);

  return {
    /**
     * Moves a generation to `to` and records the status event (and the video, for COMPLETED); null when the
     * guard says it already happened. One statement: the guarded update, the sequence allocation and the
     * inserts commit together or not at all, in a single round trip (TRANSITION_SQL, on the driver). Changes
     * asked for at once are coalesced into one statement, each with its own guard (transition-writer.ts).
     */
    transition(id: string, to: GenerationStatus, details: TransitionDetails = {}): Promise<GenerationEvent | null> {
      return transitions.transition(id, to, details);
    },

    /**
     * Appends log lines in order while the generation is still active; resolves with exactly this call's
     * events. Calls from all trackers are coalesced by the log writer into one statement per batch (see
     * appendLogsMany), since this is the hottest write of all.
     */
    appendLogs(id: string, lines: NewLogLine[], leaseOwner: string | null = null): Promise<GenerationEvent[]> {
      return writer.append({ id, lines, leaseOwner });
    },

    appendLogsMany,
    /** Records fal's request id the moment it is known: from then on the paid request can always be found. */
    async recordSubmission(id: string, falRequestId: string): Promise<boolean> {
      const { count } = await db.generation.updateMany({
        where: { id, falRequestId: null },
        data: { falRequestId, updatedAt: new Date() },
      });
      return count === 1;
    },

    async eventsAfter(id: string, afterSequence: number, limit = 1000): Promise<GenerationEvent[]> {
      const rows = await db.generationEvent.findMany({
        where: { generationId: id, sequence: { gt: afterSequence } },
        orderBy: { sequence: 'asc' },
        take: limit,
      });
      return rows.map(toEvent);
    },

    /**
     * Each generation's last event sequence (ids not found are absent, keys in lower case): one statement for
     * every hub of a process, so looking for lost publishes costs one read per interval, not one per generation.
     */
    async lastSequences(ids: string[]): Promise<Map<string, number>> {
      const rows = await db.generation.findMany({ where: { id: { in: ids } }, select: { id: true, lastSequence: true } });
      return new Map(rows.map((row) => [row.id.toLowerCase(), row.lastSequence]));
    },

    async logs(id: string): Promise<GenerationLogLine[]> {
      const rows = await db.generationEvent.findMany({
        where: { generationId: id, kind: 'LOG' },
        orderBy: { sequence: 'asc' },
      });
      return rows.map(toLogLine);
    },

    async wasCancelRequested(id: string): Promise<boolean> {
      const row = await db.generation.findUnique({ where: { id }, select: { cancelRequestedAt: true } });
      return row?.cancelRequestedAt != null;
    },
  };
}

export type GenerationStore = ReturnType<typeof createGenerationStore>;

/** A written row's json as a driver returns it: parsed (pg, PGlite), or its text (Prisma's raw fallback, sqlRunner). */
/** The columns of a stored event that make a GenerationEvent (a Prisma row, or the same columns from raw SQL). */
export type EventRow = Pick<
  Prisma.GenerationEventGetPayload<object>,
  'kind' | 'generationId' | 'sequence' | 'status' | 'queuePosition' | 'logMessage' | 'logLevel' | 'logTimestamp' | 'createdAt'
>;

/** The one mapping from a stored LOG event row to a log line (store reads, subscriptions, the schema's logs field). */
export function toLogLine(row: Pick<EventRow, 'sequence' | 'logMessage' | 'logLevel' | 'logTimestamp' | 'createdAt'>): GenerationLogLine {
  return {
    sequence: row.sequence,
    message: row.logMessage ?? '',
    level: row.logLevel ?? 'INFO',
    timestamp: row.logTimestamp ?? row.createdAt,
  };
}

export function toEvent(row: EventRow): GenerationEvent {
  if (row.kind === 'LOG') {
    return {
      kind: 'LOG',
      generationId: row.generationId,
      sequence: row.sequence,
      log: toLogLine(row),
      at: row.createdAt,
    };
  }
  return {
    kind: 'STATUS',
    generationId: row.generationId,
    sequence: row.sequence,
    status: row.status as GenerationStatus,
    queuePosition: row.queuePosition,
    at: row.createdAt,
  };
}
