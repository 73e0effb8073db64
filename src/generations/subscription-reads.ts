import type { PrismaClient } from '../db/index.ts';
import type { GenerationEvent } from './events.ts';
import type { GenerationStatus } from './status.ts';
import { toEvent, type EventRow } from './store.ts';

/** What a new subscriber needs to know first: the generation's state and the first page of its history. */
export interface SubscriptionStart {
  /** The generation's owner (a hub's cache authorises later subscribers against it). */
  tenantId: string;
  status: GenerationStatus;
  /** Highest sequence written when the page was read: with a terminal status, nothing will come after it. */
  lastSequence: number;
  events: GenerationEvent[];
}

/** The generation's state on every row, and one event per row (all null when there is none after afterSequence). */
type StartRow = { generationStatus: string; lastSequence: number; ownerId: string } & {
  [K in keyof Omit<EventRow, 'generationId'>]: EventRow[K] | null;
};

/**
 * The ownership check, the generation's status and last sequence, and the first `limit` events after
 * `afterSequence`, in ONE statement (one snapshot, one round trip): a subscribe used to cost three reads.
 * Null when the generation does not exist or `tenantId` (null: any tenant, for an admin) does not own it,
 * so a foreign id looks exactly like an unknown one.
 */
export async function readSubscriptionStart(
  db: PrismaClient,
  id: string,
  tenantId: string | null,
  afterSequence: number,
  limit: number,
): Promise<SubscriptionStart | null> {
  const rows = await db.$queryRaw<StartRow[]>`
    SELECT g.status::text AS "generationStatus", g."lastSequence" AS "lastSequence", g."tenantId" AS "ownerId",
           e.sequence, e.kind::text AS kind, e.status::text AS status, e."queuePosition",
           e."logMessage", e."logLevel", e."logTimestamp", e."createdAt"
      FROM "Generation" g
      LEFT JOIN LATERAL (
        SELECT * FROM "GenerationEvent" ev
         WHERE ev."generationId" = g.id AND ev.sequence > ${afterSequence}::int
         ORDER BY ev.sequence
         LIMIT ${limit}::int
      ) e ON true
     WHERE g.id = ${id}::uuid AND (${tenantId}::text IS NULL OR g."tenantId" = ${tenantId}::text)
     ORDER BY e.sequence`;
  if (rows.length === 0) return null;
  const events: GenerationEvent[] = [];
  for (const row of rows) {
    if (row.sequence === null) continue; // no event after afterSequence (the LEFT JOIN's empty side)
    events.push(toEvent({ ...row, generationId: id, sequence: Number(row.sequence) } as EventRow));
  }
  return {
    tenantId: rows[0].ownerId,
    status: rows[0].generationStatus as GenerationStatus,
    lastSequence: Number(rows[0].lastSequence),
    events,
  };
}
