import type { GenerationEvent, GenerationUpdatedMessage } from './events.ts';

/**
 * A typed name for one kind of memoised work. Whoever writes an entry defines its key once (at module or
 * plugin scope) and nobody else holds it, so two layers can never read or clobber each other's entries.
 */
export class MemoKey<T> {
  declare private readonly valueType: T;
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }
}

/** Work memoised for a live event (or a batch of them), by MemoKey: computed by the first reader, shared by the rest. */
export class Memo {
  // Made on first use: every live event has a memo, and most are only ever read through their batch's.
  private entries: Map<MemoKey<unknown>, unknown> | null = null;

  /** The entry for `key`, created by `create` on first use. */
  get<T>(key: MemoKey<T>, create: () => T): T {
    const entries = (this.entries ??= new Map<MemoKey<unknown>, unknown>());
    if (entries.has(key)) return entries.get(key) as T;
    const value = create();
    entries.set(key, value);
    return value;
  }
}

/**
 * An event as this process hands it to its subscribers, with the memo slots that let the work done for one
 * subscriber serve every other:
 *
 * - `memo` is this one event's: what executing it produced. Written by the cohort plugin (http/cohort.ts): the
 *   execution result per cohort (document, variables, tenant, scope) and its serialised frames.
 * - `batchMemo` is shared by every event of one write (the log lines one statement wrote for one generation,
 *   which are published only after that write committed) or of one database read (a history page, a repair
 *   read): anything read about the generation after that write or read is as fresh as each of its events
 *   needs. Written by the per-request event loader (schema/event-loader.ts): the generation row, per
 *   database, tenant and selection (taken from the row the write returned when the event carries it, see
 *   GenerationEvent.row, else read). An event of neither kind has a batchMemo of its own (the same as `memo`).
 *
 * Why this is safe: a LiveEvent is created in exactly one place (LiveEvents below), by the hub, once per
 * published or repaired event per process (generations/hub.ts), by a hub's history cache once per cached event
 * per replay round (generations/history-cache.ts: every subscriber replaying in that round, which ends with any
 * change to the generation or after REPLAY_FRESH_MS, gets the same objects), and by a subscriber's replay
 * reader once per event it reads from the database (generations/event-stream.ts). Every local subscriber of the hub is handed that very object,
 * never a copy, so one entry serves them all and is dropped with the event once the last of them has sent it.
 * Entries must depend only on the event (and its batch) and on what their key names (tenant, selection): never
 * on one subscriber's state. The slots are non-enumerable, so a copy (`{ ...event }`) has none, and does not
 * pass for the shared event, and the wire format (toMessage, JSON) never sees them.
 */
export type Live<T extends object> = T & { readonly memo: Memo; readonly batchMemo: Memo };
export type LiveEvent = Live<GenerationEvent>;
export type LiveUpdate = Live<GenerationUpdatedMessage>;

/** True for an object LiveEvents made (not for a copy of one). */
export function isLive<T extends object>(value: T): value is Live<T> {
  return (value as Partial<Live<T>>).memo instanceof Memo;
}

function live<T extends object>(value: T, batchMemo?: Memo): Live<T> {
  const memo = new Memo();
  return Object.defineProperties(value, {
    memo: { value: memo, enumerable: false },
    batchMemo: { value: batchMemo ?? memo, enumerable: false },
  }) as Live<T>;
}

/**
 * The one maker of LiveEvents, one per fan-out point (a generation's hub, a replay reader, the updates hub).
 * It takes ownership of the objects it is given (fresh ones: converted from a message, handed over by the
 * in-memory bus, or read from the database) and remembers the last write batch, so lines of one batch published one after another (as the
 * log writer does) share one batchMemo, also after Redis, where each line arrives as its own message.
 */
export class LiveEvents {
  private lastBatch: { name: string; memo: Memo } | null = null;

  /** One event from the bus: lines of the batch seen last share its batchMemo. */
  published(event: GenerationEvent): LiveEvent {
    if (event.kind !== 'LOG' || !event.batch) return live(event);
    if (this.lastBatch?.name !== event.batch) this.lastBatch = { name: event.batch, memo: new Memo() };
    return live(event, this.lastBatch.memo);
  }

  /** The events of one database read: they share one batchMemo. */
  read(events: GenerationEvent[]): LiveEvent[] {
    const page = new Memo();
    return events.map((event) => live(event, page));
  }

  /** An event replayed from a hub's cache: every event of one replay round shares `batchMemo`. */
  shared(event: GenerationEvent, batchMemo: Memo): LiveEvent {
    return live(event, batchMemo);
  }

  /** A dashboard update (videoGenerationUpdated) from the bus. */
  update(message: GenerationUpdatedMessage): LiveUpdate {
    // The bus payload may be the publisher's own object (in memory): the live one is ours.
    return live({ id: message.id, tenantId: message.tenantId });
  }
}
