import type { PrismaClient } from '../db/index.ts';
import type { GenerationEvent } from '../generations/events.ts';
import { WRITTEN_COLUMNS, type WrittenRow } from '../generations/generation-row.ts';
import { isLive, MemoKey } from '../generations/live-event.ts';

/** Row loads of one event batch: per database (apps in one process may differ), then per tenant and selection. */
type Loads = Map<object, Map<string, unknown>>;

/**
 * The generation rows read for a LiveEvent's batch (see generations/live-event.ts). Every subscriber of one
 * event, and every event of one write or one history page, share its batchMemo, so `generation { ... }` on
 * them is read once per database, tenant and selection, not once per subscriber and event.
 */
const GENERATION_LOADS = new MemoKey<Loads>('generation rows of an event batch');

/**
 * What the event types' resolvers load, for one request (one subscription operation, in graphql-ws and SSE
 * alike): created with the request's context and dropped with it. Work shared across subscribers lives in the
 * LiveEvent's memo slots; an event that is not a LiveEvent (a plain object handed to execute) is loaded once
 * per object for this request only.
 */
export interface EventLoader {
  /**
   * The generation an event belongs to, as `query` selects it (a Pothos prisma query), read as `tenantId`: from
   * the row the event's write returned when it carries one (GenerationEvent.row: published in this process) that
   * `tenantId` owns and the query needs nothing else of, else by `read`. A carried row is answered as a value,
   * not a promise: the event's whole execution then finishes synchronously (see http/cohort.ts).
   */
  generation<T>(event: GenerationEvent, query: object, tenantId: string, read: () => Promise<T>): T | Promise<T>;
}

export function createEventLoader(db: PrismaClient | object): EventLoader {
  const ownLoads = new WeakMap<GenerationEvent, Map<string, unknown>>();
  const loadsOf = (event: GenerationEvent): Map<string, unknown> => {
    if (isLive(event)) {
      const perDb = event.batchMemo.get(GENERATION_LOADS, (): Loads => new Map());
      let loads = perDb.get(db);
      if (!loads) perDb.set(db, (loads = new Map<string, unknown>()));
      return loads;
    }
    let loads = ownLoads.get(event);
    if (!loads) ownLoads.set(event, (loads = new Map<string, unknown>()));
    return loads;
  };
  return {
    generation<T>(event: GenerationEvent, query: object, tenantId: string, read: () => Promise<T>) {
      const loads = loadsOf(event);
      const key = `${tenantId}|${JSON.stringify(query)}`;
      let load = loads.get(key) as T | Promise<T> | undefined;
      if (load === undefined) {
        // The row is as fresh as the batch's events need: it is the row their write left, and every event of
        // one batch comes from that one write (a later write is a later batch, with its own row or read).
        const written = event.row?.tenantId === tenantId ? fromWrittenRow(query, event.row) : null;
        load = written ? (written as T) : read();
        loads.set(key, load);
      }
      return load;
    },
  };
}

/**
 * What Prisma would answer for `query` on this row, or null when the query asks for more than the row holds: a
 * relation (include or select of one, `_count`), a column the row does not carry, or any other argument. Pothos'
 * queries for selections of scalar fields only are `{}` (every scalar column) or a `select` of them.
 */
function fromWrittenRow(query: object, row: WrittenRow): object | null {
  let select: Record<string, unknown> | null = null;
  for (const [name, value] of Object.entries(query as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (name === 'include' && typeof value === 'object' && value !== null && Object.keys(value).length === 0) continue;
    if (name !== 'select' || typeof value !== 'object' || value === null) return null;
    select = value as Record<string, unknown>;
  }
  if (!select) return row;
  const picked: Record<string, unknown> = {};
  for (const [column, wanted] of Object.entries(select)) {
    if (wanted === false || wanted === undefined) continue;
    if (wanted !== true || !WRITTEN_COLUMNS.has(column)) return null;
    picked[column] = row[column as keyof WrittenRow];
  }
  return picked;
}
