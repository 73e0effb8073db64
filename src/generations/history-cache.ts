import type { GenerationEvent } from './events.ts';
import { LiveEvents, Memo, type LiveEvent } from './live-event.ts';
import type { GenerationStatus } from './status.ts';
import type { SubscriptionStart } from './subscription-reads.ts';

/** Events one generation's cache holds at most (the newest; a subscriber from further back reads the database). */
export const CACHED_EVENTS_PER_GENERATION = 1_000;
/** Events all caches of one bus hold together at most: past it, a cache that grows drops its own oldest. */
export const CACHED_EVENTS_PER_BUS = 50_000;
/**
 * How long replayed LiveEvents (and what was computed for them: the `generation` row, cohort executions) are
 * shared by later subscribers. Any change to the cache starts afresh at once; this bounds what no event
 * announces (fields computed from the clock, an archived video), as a live event's memo is bounded by its
 * delivery.
 */
export const REPLAY_FRESH_MS = 1_000;

/** What all caches of one bus hold together. */
export interface CacheBudget {
  events: number;
  max: number;
}

/**
 * One generation's state and history, kept by its hub while the hub has members, so a subscriber after the
 * first reads nothing from the database: its ownership check, status and history are answered from here.
 *
 * Invariant: once seeded, `events` holds every committed event with a sequence in (base, top], in order and
 * without a gap, and `status` is the generation's status as of `top`. It is seeded only from a complete read
 * (one statement: one snapshot, and a generation's events commit in sequence order, since each write
 * allocates its sequence by updating the generation row), and it grows only by the event at top + 1. An event
 * that arrives ahead of that is held in `ahead`, and the missing range is read from the database once,
 * whoever asks, before the cache serves anything again. If that cannot be done (the read fails, or too much
 * is held ahead) the cache is dropped (unseeded) and subscribers read the database, as without a cache; a
 * read that began before the drop never seeds it (`version`).
 *
 * Ownership (tenantId) never changes, so the cached owner authorises exactly as the database read does: a
 * foreign tenant is answered null, the same as an unknown id.
 */
export class HistoryCache {
  private seeded = false;
  private owner = '';
  private status: GenerationStatus = 'PENDING';
  private base = 0;
  private events: GenerationEvent[] = [];
  /** Events received past top + 1, by sequence, until the range between is read. */
  private ahead = new Map<number, GenerationEvent>();
  private repairing: Promise<void> | null = null;
  /** Bumped whenever the cache is dropped: a read begun before must not seed it. */
  version = 0;
  /** The LiveEvents replayed since the last change, shared by every subscriber that replays them. */
  private replay: { memo: Memo; made: Map<number, LiveEvent>; at: number } | null = null;
  private readonly liveEvents = new LiveEvents();

  private readonly read: (afterSequence: number, limit: number) => Promise<GenerationEvent[]>;
  private readonly budget: CacheBudget;
  private readonly freshMs: number;
  private readonly limit: number;

  constructor(
    read: (afterSequence: number, limit: number) => Promise<GenerationEvent[]>,
    budget: CacheBudget,
    freshMs = REPLAY_FRESH_MS,
    limit = CACHED_EVENTS_PER_GENERATION,
  ) {
    this.read = read;
    this.budget = budget;
    this.freshMs = freshMs;
    this.limit = limit;
  }

  private get top() {
    return this.base + this.events.length;
  }

  /**
   * A subscriber's start from the cache: null for a foreign tenant (tenantId null: an admin, any tenant),
   * undefined when the cache cannot answer (not seeded, or `afterSequence` is before what it holds).
   */
  async start(afterSequence: number, tenantId: string | null): Promise<SubscriptionStart | null | undefined> {
    if (!(await this.settled())) return undefined;
    if (tenantId !== null && tenantId !== this.owner) return null;
    if (afterSequence < this.base) return undefined;
    return { tenantId: this.owner, status: this.status, lastSequence: this.top, events: this.replayAfter(afterSequence, Infinity) };
  }

  /** Up to `limit` events after `afterSequence` from the cache, or null when it does not hold the next one. */
  async eventsAfter(afterSequence: number, limit: number): Promise<LiveEvent[] | null> {
    if (!(await this.settled())) return null;
    if (afterSequence < this.base || afterSequence >= this.top) return null;
    return this.replayAfter(afterSequence, limit);
  }

  /**
   * Seeds the cache from a subscriber's database start read (begun after `version` was read) if that read
   * holds everything up to the last sequence it saw (a page can stop short of it).
   */
  offer(start: SubscriptionStart, afterSequence: number, version: number) {
    const base = Math.min(afterSequence, start.lastSequence);
    if (version !== this.version || start.events.length !== start.lastSequence - base) return;
    const events = start.events.map((event) => ({ ...event }));
    if (!this.seeded) {
      this.seeded = true;
      this.owner = start.tenantId;
      this.status = start.status;
      this.base = base;
      this.setEvents(events);
      this.trim();
      this.takeAhead();
      return;
    }
    // Already seeded by another read: this one may reach further back (events never change).
    if (base >= this.base || start.lastSequence < this.base) return;
    const older = events.filter((event) => event.sequence <= this.base);
    if (older.length + this.events.length > this.limit || this.budget.events + older.length > this.budget.max) return;
    this.base = base;
    this.setEvents([...older, ...this.events]);
  }

  /** An event from the bus, or from a repair read of the hub. */
  received(event: GenerationEvent) {
    if (event.sequence <= this.top && this.seeded) return;
    if (event.sequence !== this.top + 1 || !this.seeded) {
      if (this.ahead.size >= this.limit) return this.drop();
      this.ahead.set(event.sequence, { ...event });
      if (this.seeded) this.repair();
      return;
    }
    this.append({ ...event });
    this.takeAhead();
  }

  /** Something about the generation changed that no event announces: replays read it again. */
  invalidate() {
    this.replay = null;
  }

  /** Drops everything (the hub's last member left, or the cache cannot stay complete). */
  drop() {
    this.budget.events -= this.events.length;
    this.seeded = false;
    this.events = [];
    this.ahead.clear();
    this.replay = null;
    this.version += 1;
  }

  /** True once no repair is pending and the cache is seeded and complete. */
  private async settled(): Promise<boolean> {
    while (this.repairing) await this.repairing;
    return this.seeded && this.ahead.size === 0;
  }

  private repair() {
    if (this.repairing) return;
    const version = this.version;
    this.repairing = (async () => {
      try {
        while (this.version === version && this.ahead.size > 0) {
          const page = await this.read(this.top, 500);
          if (this.version !== version) return;
          // Announced events that the database does not show: nothing to be sure of, so start again.
          if (page.length === 0) return this.drop();
          for (const event of page) if (event.sequence === this.top + 1) this.append({ ...event });
          this.takeAhead();
        }
      } catch {
        if (this.version === version) this.drop(); // the database is briefly away: subscribers read it themselves
      } finally {
        this.repairing = null;
      }
    })();
  }

  /** Moves what was held ahead into the cache while it continues it; drops what it already has. */
  private takeAhead() {
    if (!this.seeded) return;
    for (const sequence of [...this.ahead.keys()]) if (sequence <= this.top) this.ahead.delete(sequence);
    for (let next = this.ahead.get(this.top + 1); next; next = this.ahead.get(this.top + 1)) {
      this.ahead.delete(next.sequence);
      this.append(next);
    }
    if (this.ahead.size > 0) this.repair();
  }

  private append(event: GenerationEvent) {
    this.events.push(event);
    this.budget.events += 1;
    // Status events move the cached status (and any write moves the generation row: replays read it anew).
    if (event.kind === 'STATUS') this.status = event.status;
    this.replay = null;
    this.trim();
  }

  private setEvents(events: GenerationEvent[]) {
    this.budget.events += events.length - this.events.length;
    this.events = events;
    this.replay = null;
  }

  /** Keeps the newest events within this cache's limit and the bus' budget (base moves up, no gap opens). */
  private trim() {
    let excess = Math.max(this.events.length - this.limit, Math.min(this.budget.events - this.budget.max, this.events.length));
    if (excess <= 0) return;
    excess = Math.min(excess, this.events.length);
    this.events.splice(0, excess);
    this.base += excess;
    this.budget.events -= excess;
  }

  private replayAfter(afterSequence: number, limit: number): LiveEvent[] {
    const now = Date.now();
    if (!this.replay || now - this.replay.at > this.freshMs) this.replay = { memo: new Memo(), made: new Map(), at: now };
    const { memo, made } = this.replay;
    const out: LiveEvent[] = [];
    for (let i = afterSequence - this.base; i < this.events.length && out.length < limit; i += 1) {
      const event = this.events[i];
      let replayed = made.get(event.sequence);
      if (!replayed) made.set(event.sequence, (replayed = this.liveEvents.shared({ ...event }, memo)));
      out.push(replayed);
    }
    return out;
  }
}
