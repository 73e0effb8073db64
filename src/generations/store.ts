import type { Prisma, PrismaClient } from '../db/index.ts';
import type { GenerationEvent, GenerationLogLine } from './events.ts';
import { ACTIVE_STATUSES, ALLOWED_FROM, isTerminal, type GenerationStatus } from './status.ts';

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
}

/**
 * Every write to a generation's state. Each transition is one guarded, idempotent write: it only applies
 * from the states in ALLOWED_FROM, and it allocates the event's sequence number in the same transaction
 * that inserts the event, so the event log has no gaps and no duplicates whoever writes.
 */
export function createGenerationStore(db: PrismaClient) {
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
     * Appends log lines in order while the generation is still active; returns the events written. One
     * statement (sequence allocation and inserts together), since this is the hottest write of all.
     */
    async appendLogs(id: string, lines: NewLogLine[], leaseOwner: string | null = null): Promise<GenerationEvent[]> {
      if (lines.length === 0) return [];
      const now = new Date();
      const n = lines.length;
      const rows = await db.$queryRaw<Array<{ sequence: number }>>`
        WITH g AS (
          UPDATE "Generation" SET "lastSequence" = "lastSequence" + ${n}::int, "updatedAt" = ${now}
           WHERE id = ${id}::uuid AND status IN ('PENDING', 'IN_QUEUE', 'IN_PROGRESS')
             AND (${leaseOwner}::text IS NULL OR "leaseOwner" = ${leaseOwner}::text)
          RETURNING "lastSequence" - ${n}::int AS base
        )
        INSERT INTO "GenerationEvent" ("generationId", sequence, kind, "logMessage", "logLevel", "logTimestamp", "createdAt")
        SELECT ${id}::uuid, g.base + l.ord::int, 'LOG', l.message, l.level, l.ts, ${now}
          FROM g, unnest(${lines.map((l) => l.message)}::text[], ${lines.map((l) => l.level)}::text[], ${lines.map((l) => l.timestamp.toISOString())}::timestamp(3)[])
               WITH ORDINALITY AS l(message, level, ts, ord)
        RETURNING sequence`;
      if (rows.length === 0) return [];
      const first = Math.min(...rows.map((r) => Number(r.sequence)));
      return lines.map((line, i): GenerationEvent => ({
        kind: 'LOG',
        generationId: id,
        sequence: first + i,
        log: { sequence: first + i, message: line.message, level: line.level, timestamp: line.timestamp },
        at: now,
      }));
    },

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
      return rows.map((row) => ({ sequence: row.sequence, message: row.logMessage ?? '', level: row.logLevel ?? 'INFO', timestamp: row.logTimestamp ?? row.createdAt }));
    },

    async wasCancelRequested(id: string): Promise<boolean> {
      const row = await db.generation.findUnique({ where: { id }, select: { cancelRequestedAt: true } });
      return row?.cancelRequestedAt != null;
    },

    /** True when the generation is terminal and has no event after `sequence`. */
    async isFinishedAt(id: string, sequence: number): Promise<boolean> {
      const row = await db.generation.findUnique({ where: { id }, select: { status: true, lastSequence: true } });
      return row !== null && isTerminal(row.status) && row.lastSequence <= sequence;
    },

  };
}

export type GenerationStore = ReturnType<typeof createGenerationStore>;

type EventRow = Prisma.GenerationEventGetPayload<object>;

function toEvent(row: EventRow): GenerationEvent {
  if (row.kind === 'LOG') {
    return {
      kind: 'LOG',
      generationId: row.generationId,
      sequence: row.sequence,
      log: { sequence: row.sequence, message: row.logMessage ?? '', level: row.logLevel ?? 'INFO', timestamp: row.logTimestamp ?? row.createdAt },
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
