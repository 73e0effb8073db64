import type { Prisma, PrismaClient } from '../db/index.ts';
import type { GenerationEvent, GenerationLogLine } from './events.ts';
import { createLogWriter, type LogAppend } from './log-writer.ts';
import type { MetricsSink } from '../metrics/types.ts';
import { ACTIVE_STATUS_SQL } from './status-sql.ts';
import { ALLOWED_FROM, type GenerationStatus } from './status.ts';

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
export function createGenerationStore(db: PrismaClient, options: { maxLinesPerLogWrite?: number; metrics?: MetricsSink } = {}) {
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
    const rows = await db.$queryRaw<Array<{ id: string; base: number }>>`
      WITH req AS (
        SELECT * FROM unnest(${sorted.map((r) => r.id)}::uuid[], ${sorted.map((r) => r.lines.length)}::int[], ${sorted.map((r) => r.leaseOwner)}::text[])
                 AS r(id, n, owner)
      ), g AS (
        UPDATE "Generation" AS gen SET "lastSequence" = gen."lastSequence" + req.n, "updatedAt" = ${now}
          FROM req
         WHERE gen.id = req.id AND gen.status IN (${ACTIVE_STATUS_SQL})
           AND (req.owner IS NULL OR gen."leaseOwner" = req.owner)
        RETURNING gen.id, gen."lastSequence" - req.n AS base
      ), ins AS (
        INSERT INTO "GenerationEvent" ("generationId", sequence, kind, "logMessage", "logLevel", "logTimestamp", "createdAt")
        SELECT l.gid, g.base + l.ord, 'LOG', l.message, l.level, l.ts, ${now}
          FROM unnest(${lineGen}::uuid[], ${ords}::int[], ${messages}::text[], ${levels}::text[], ${stamps}::timestamp(3)[])
                 AS l(gid, ord, message, level, ts)
          JOIN g ON g.id = l.gid
      )
      SELECT id::text AS id, base FROM g`;
    const bases = new Map(rows.map((row) => [row.id, Number(row.base)]));
    return requests.map((r) => {
      const base = bases.get(r.id.toLowerCase());
      if (base === undefined || r.lines.length === 0) return [];
      // Shared by the events of this write: resolvers read the generation once per write, not once per line.
      const batch = `${r.id}#${base + r.lines.length}`;
      return r.lines.map((line, i): GenerationEvent => ({
        kind: 'LOG',
        generationId: r.id,
        sequence: base + i + 1,
        log: { sequence: base + i + 1, message: line.message, level: line.level, timestamp: line.timestamp },
        at: now,
        batch,
      }));
    });
  }

  const writer = createLogWriter(appendLogsMany, { maxLines: options.maxLinesPerLogWrite, metrics: options.metrics });

  return {
    /**
     * Moves a generation to `to` and records the status event (and the video, for COMPLETED); null when the
     * guard says it already happened. One statement: the guarded update, the sequence allocation and the
     * inserts commit together or not at all, in a single round trip.
     */
    async transition(id: string, to: GenerationStatus, details: TransitionDetails = {}): Promise<GenerationEvent | null> {
      const queuePosition = to === 'IN_QUEUE' ? (details.queuePosition ?? null) : null;
      const now = new Date();
      const from = details.onlyFrom ?? [...ALLOWED_FROM[to]];
      const terminal = to === 'COMPLETED' || to === 'FAILED' || to === 'CANCELLED';
      const video = details.video ?? null;
      const rows = await db.$queryRaw<Array<{ sequence: number }>>`
        WITH g AS (
          UPDATE "Generation"
             SET status = ${to}::"GenerationStatus",
                 "queuePosition" = ${queuePosition}::int,
                 "lastSequence" = "lastSequence" + 1,
                 "updatedAt" = ${now},
                 "startedAt" = CASE WHEN ${to === 'IN_PROGRESS'} THEN ${now} ELSE "startedAt" END,
                 "completedAt" = CASE WHEN ${terminal} THEN ${now} ELSE "completedAt" END,
                 "errorCode" = COALESCE(${details.error?.code ?? null}::text, "errorCode"),
                 "errorMessage" = COALESCE(${details.error?.message ?? null}::text, "errorMessage")
           WHERE id = ${id}::uuid
             AND status::text = ANY(${from}::text[])
             AND (${details.leaseOwner ?? null}::text IS NULL OR "leaseOwner" = ${details.leaseOwner ?? null}::text)
             AND (${details.unsubmittedForSeconds ?? null}::int IS NULL
                  OR ("falRequestId" IS NULL
                      AND "createdAt" < timezone('UTC', now()) - make_interval(secs => ${details.unsubmittedForSeconds ?? null}::int)))
             -- Within IN_QUEUE only a falling position is a change: a repeated or late (stale) report that
             -- arrives after a newer one, e.g. a stream event queued behind a catch-up poll, never moves it back.
             AND NOT (status = 'IN_QUEUE' AND ${to}::"GenerationStatus" = 'IN_QUEUE'
                      AND "queuePosition" IS NOT NULL AND (${queuePosition}::int IS NULL OR ${queuePosition}::int >= "queuePosition"))
          RETURNING "lastSequence"
        ), event AS (
          INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "queuePosition", "createdAt")
          SELECT ${id}::uuid, "lastSequence", 'STATUS', ${to}::"GenerationStatus", ${queuePosition}::int, ${now} FROM g
        ), output AS (
          INSERT INTO "VideoOutput" ("generationId", "sourceUrl", "contentType", "fileName", "fileSize", "createdAt")
          SELECT ${id}::uuid, ${video?.sourceUrl ?? null}::text, ${video?.contentType ?? null}::text, ${video?.fileName ?? null}::text,
                 ${video?.fileSize ?? null}::int, ${now}
            FROM g WHERE ${video !== null}
        )
        SELECT "lastSequence" AS sequence FROM g`;
      if (rows.length === 0) return null;
      const sequence = Number(rows[0].sequence);
      return { kind: 'STATUS', generationId: id, sequence, status: to, queuePosition, at: now } satisfies GenerationEvent;
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
