import { topics, type EventBus } from '../pubsub/index.ts';
import { fromPublished, type GenerationUpdatedMessage, type PublishedEvent } from './events.ts';
import { isLive, LiveEvents, type LiveEvent, type LiveUpdate } from './live-event.ts';
import { CACHED_EVENTS_PER_BUS, HistoryCache, type CacheBudget } from './history-cache.ts';
import { PAGE } from './event-stream.ts';
import type { GenerationStore } from './store.ts';
import type { SubscriptionStart } from './subscription-reads.ts';

/** A subscriber's place in a generation's hub. */
export interface HubMembership {
  /** The member handed out everything up to `sequence`: a repair read starts after the most advanced member or the hub. */
  delivered(sequence: number): void;
  /**
   * The member's start: from the hub's cache when it holds the generation (no database read), else `read`
   * (the database), whose answer then seeds the cache. Null: no such generation for `tenantId` (null: admin).
   */
  start(
    afterSequence: number,
    tenantId: string | null,
    read: (afterSequence: number, limit: number) => Promise<SubscriptionStart | null>,
  ): Promise<SubscriptionStart | null>;
  /** Up to `limit` events after `afterSequence` from the hub's cache, null when it does not hold them. */
  cached(afterSequence: number, limit: number): Promise<LiveEvent[] | null>;
  leave(): void;
}

/** How a generation's hub keeps its cache (tests shorten or lengthen the replay's freshness). */
export interface HubOptions {
  /** How often the hub looks for lost publishes (default 5 s). */
  repairMs?: number;
  /** How long replayed events are shared (default REPLAY_FRESH_MS). */
  replayFreshMs?: number;
}

/**
 * One hub per generation per process, shared by all of its local subscribers: one bus listener, one
 * message-to-LiveEvent conversion per published event (so every subscriber is handed the same object, and
 * what is computed for it, see live-event.ts, is computed once), at most one repair read per interval
 * (only when the database is ahead of it) instead of one per subscriber, and one cache of the generation's owner, status and history (history-cache.ts), so a
 * subscriber after the first reads nothing. Subscribers still keep their own position and order; the hub
 * only feeds their inboxes.
 */
interface Hub {
  /** Each member's inbox and the last sequence it delivered. */
  members: Map<(event: LiveEvent) => void, { last: number }>;
  cache: HistoryCache;
  /** The database start read that will seed the cache, while one is in flight. */
  seeding: Promise<unknown> | null;
  unsubscribe: () => void;
  /** The highest sequence this hub has received (published, or found by a repair read). */
  seen: number;
  /** Reads what was committed after `from` but never reached the hub, and hands it to the members. */
  repair(from: number): Promise<void>;
}

/** The hubs of one bus (one bus per app), so apps in one process (tests, benchmarks) never share one. */
interface BusHubs {
  hubs: Map<string, Hub>;
  budget: CacheBudget;
  /** Listens to dashboard updates while the bus has hubs: a change no event announces (an archived video). */
  leaveUpdates: (() => void) | null;
  /** The bus' one repair loop while it has hubs (see repairHubs). */
  repair: { timer: ReturnType<typeof setInterval>; everyMs: number; store: GenerationStore } | null;
  repairing: boolean;
}

const REPAIR_MS = 5_000;

/**
 * A published event can be lost in transit (Redis restarting). A lost event in the middle shows as a gap the
 * next one reveals, and the member reads it back itself (event-stream.ts); a lost last event (a completion)
 * reveals nothing. So each interval the bus reads every hub's last committed sequence in one statement, and
 * only a hub the database is ahead of reads its events: at 2,000 open generations a read per hub per interval
 * from its slowest member (the earlier design) was 400 reads a second of up to 500 events each, which buried
 * ingest in its own history.
 */
async function repairHubs(perBus: BusHubs): Promise<void> {
  if (perBus.repairing || !perBus.repair || perBus.hubs.size === 0) return;
  perBus.repairing = true;
  try {
    const hubs = [...perBus.hubs];
    const last = await perBus.repair.store.lastSequences(hubs.map(([id]) => id));
    await Promise.all(
      hubs.map(([id, hub]) => {
        let from = hub.seen;
        // A member can be ahead of what the hub saw: its start read the database after the hub's last event.
        for (const state of hub.members.values()) if (state.last > from) from = state.last;
        return (last.get(id.toLowerCase()) ?? 0) > from ? hub.repair(from) : Promise.resolve();
      }),
    );
  } catch {
    // Shutting down, or the database is briefly away: the next interval tries again.
  } finally {
    perBus.repairing = false;
  }
}

const hubsByBus = new WeakMap<EventBus, BusHubs>();

export function joinHub(
  bus: EventBus,
  store: GenerationStore,
  generationId: string,
  options: HubOptions,
  member: (event: LiveEvent) => void,
): HubMembership {
  const perBus = hubsByBus.get(bus) ?? {
    hubs: new Map<string, Hub>(),
    budget: { events: 0, max: CACHED_EVENTS_PER_BUS },
    leaveUpdates: null,
    repair: null,
    repairing: false,
  };
  hubsByBus.set(bus, perBus);
  const { hubs } = perBus;
  if (!perBus.leaveUpdates) perBus.leaveUpdates = joinUpdates(bus, (update) => hubs.get(update.id)?.cache.invalidate());
  // One loop per bus, as often as the most demanding hub asks (tests shorten it).
  const everyMs = options.repairMs ?? REPAIR_MS;
  if (!perBus.repair || perBus.repair.everyMs > everyMs) {
    if (perBus.repair) clearInterval(perBus.repair.timer);
    perBus.repair = { timer: setInterval(() => void repairHubs(perBus), everyMs), everyMs, store };
  }
  let hub = hubs.get(generationId);
  if (!hub) {
    const members = new Map<(event: LiveEvent) => void, { last: number }>();
    const liveEvents = new LiveEvents();
    const cache = new HistoryCache((after, limit) => store.eventsAfter(generationId, after, limit), perBus.budget, options.replayFreshMs);
    // Every member gets the very object made here: a copy would lose what the others computed for it.
    const dispatch = (event: LiveEvent) => {
      for (const deliver of members.keys()) deliver(event);
    };
    const created: Hub = {
      members,
      cache,
      seeding: null,
      seen: 0,
      unsubscribe: bus.subscribe<PublishedEvent>(topics.generationEvents(generationId), (payload) => {
        const published = fromPublished(payload);
        // In memory the publisher's object becomes the LiveEvent; one published twice is taken as a copy.
        const event = liveEvents.published(isLive(published) ? { ...published } : published);
        if (event.sequence > created.seen) created.seen = event.sequence;
        cache.received(event);
        dispatch(event);
      }),
      // One read per generation, however many subscribers; up to 500 events, the rest at the next interval.
      async repair(from) {
        const events = await store.eventsAfter(generationId, from, 500);
        for (const event of liveEvents.read(events)) {
          if (event.sequence > created.seen) created.seen = event.sequence;
          cache.received(event);
          dispatch(event);
        }
      },
    };
    hub = created;
    hubs.set(generationId, hub);
  }
  const membership = new Membership(perBus, hub, generationId, member);
  hub.members.set(member, membership);
  return membership;
}

/**
 * One member's place in its hub: a single object per subscriber (its methods on the prototype), since an idle
 * subscription keeps it for as long as it is open.
 */
class Membership implements HubMembership {
  /** The last sequence this member handed out (read by the repair loop). */
  last = 0;
  private readonly perBus: BusHubs;
  private readonly hub: Hub;
  private readonly generationId: string;
  private readonly member: (event: LiveEvent) => void;

  constructor(perBus: BusHubs, hub: Hub, generationId: string, member: (event: LiveEvent) => void) {
    this.perBus = perBus;
    this.hub = hub;
    this.generationId = generationId;
    this.member = member;
  }

  delivered(sequence: number) {
    if (sequence > this.last) this.last = sequence;
  }

  async start(
    afterSequence: number,
    tenantId: string | null,
    read: (afterSequence: number, limit: number) => Promise<SubscriptionStart | null>,
  ): Promise<SubscriptionStart | null> {
    const joined = this.hub;
    const cached = await joined.cache.start(afterSequence, tenantId);
    if (cached !== undefined) return cached;
    // Subscribers arriving together (a deployment reconnecting) wait for the one read that seeds the cache,
    // rather than each reading: they listen already, so the cache plus their inbox misses nothing.
    if (joined.seeding) {
      await joined.seeding;
      const seeded = await joined.cache.start(afterSequence, tenantId);
      if (seeded !== undefined) return seeded;
    }
    const version = joined.cache.version;
    const reading = read(afterSequence, PAGE);
    const seeding = reading.then(
      (start) => start && joined.cache.offer(start, afterSequence, version),
      () => {}, // the reader is told; waiters read for themselves
    );
    if (!joined.seeding) {
      joined.seeding = seeding;
      void seeding.finally(() => {
        if (joined.seeding === seeding) joined.seeding = null;
      });
    }
    return reading;
  }

  cached(afterSequence: number, limit: number): Promise<LiveEvent[] | null> {
    return this.hub.cache.eventsAfter(afterSequence, limit);
  }

  leave() {
    const { perBus, hub: joined } = this;
    const { hubs } = perBus;
    if (!joined.members.delete(this.member) || joined.members.size > 0) return;
    joined.unsubscribe();
    joined.cache.drop();
    if (hubs.get(this.generationId) === joined) hubs.delete(this.generationId);
    if (hubs.size > 0) return;
    if (perBus.leaveUpdates) {
      perBus.leaveUpdates();
      perBus.leaveUpdates = null;
    }
    if (perBus.repair) {
      clearInterval(perBus.repair.timer);
      perBus.repair = null;
    }
  }
}

/** The one listener of a bus for dashboard updates, and the subscribers it feeds. */
interface UpdatesHub {
  members: Set<(update: LiveUpdate) => void>;
  unsubscribe: () => void;
}

const updatesByBus = new WeakMap<EventBus, UpdatesHub>();

/**
 * Joins the bus' updates hub (videoGenerationUpdated): one bus listener per process, and one LiveUpdate per
 * published message handed to every local subscriber, so a dashboard's selection is executed once per cohort
 * (http/cohort.ts). Registers synchronously, like the bus. Returns the leave function.
 */
export function joinUpdates(bus: EventBus, member: (update: LiveUpdate) => void): () => void {
  let hub = updatesByBus.get(bus);
  if (!hub) {
    const members = new Set<(update: LiveUpdate) => void>();
    const liveEvents = new LiveEvents();
    hub = {
      members,
      unsubscribe: bus.subscribe<GenerationUpdatedMessage>(topics.generationsUpdated, (message) => {
        const update = liveEvents.update(message);
        for (const deliver of members) deliver(update);
      }),
    };
    updatesByBus.set(bus, hub);
  }
  const joined = hub;
  joined.members.add(member);
  return () => {
    if (!joined.members.delete(member) || joined.members.size > 0) return;
    joined.unsubscribe();
    if (updatesByBus.get(bus) === joined) updatesByBus.delete(bus);
  };
}
