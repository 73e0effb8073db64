import { FixedBuffer, Repeater } from '@repeaterjs/repeater';
import { topics, type EventBus } from '../pubsub/index.ts';
import { fromMessage, type GenerationEvent, type GenerationEventMessage, type GenerationUpdatedMessage } from './events.ts';
import { isTerminal } from './status.ts';
import type { GenerationStore } from './store.ts';
import type { SubscriptionStart } from './subscription-reads.ts';

const isTerminalEvent = (event: GenerationEvent) => event.kind === 'STATUS' && isTerminal(event.status);

/**
 * One hub per generation per process, shared by all of its local subscribers: one bus listener, one
 * message-to-event conversion per published event (so every subscriber gets the same event object, and
 * resolvers can load what it points at once per event), and one repair read per interval instead of one per
 * subscriber. Subscribers still keep their own position and order; the hub only feeds their inboxes.
 */
interface Hub {
  /** Each member's inbox and the last sequence it delivered. */
  members: Map<(event: GenerationEvent) => void, { last: number }>;
  unsubscribe: () => void;
  repair: ReturnType<typeof setInterval>;
}

const hubsByBus = new WeakMap<EventBus, Map<string, Hub>>();

function joinHub(bus: EventBus, store: GenerationStore, generationId: string, repairMs: number, member: (event: GenerationEvent) => void) {
  let hubs = hubsByBus.get(bus);
  if (!hubs) hubsByBus.set(bus, (hubs = new Map()));
  let hub = hubs.get(generationId);
  if (!hub) {
    const members = new Map<(event: GenerationEvent) => void, { last: number }>();
    const dispatch = (event: GenerationEvent) => {
      for (const deliver of members.keys()) deliver(event);
    };
    let repairing = false;
    hub = {
      members,
      unsubscribe: bus.subscribe<GenerationEventMessage>(topics.generationEvents(generationId), (message) => dispatch(fromMessage(message))),
      // A published event can be lost in transit (Redis restarting): the hub looks at the database now and
      // then, from the least advanced member on, so every idle subscriber still gets every event, and its
      // completion, without a gap. One read per generation, however many subscribers.
      repair: setInterval(() => {
        if (repairing || members.size === 0) return;
        repairing = true;
        let from = Number.POSITIVE_INFINITY;
        for (const state of members.values()) from = Math.min(from, state.last);
        store
          .eventsAfter(generationId, from, 500)
          .then((events) => {
            for (const event of events) dispatch(event);
          })
          .catch(() => {}) // shutting down, or the database is briefly away: the next interval tries again
          .finally(() => (repairing = false));
      }, repairMs),
    };
    hubs.set(generationId, hub);
  }
  const joined = hub;
  const state = { last: 0 };
  joined.members.set(member, state);
  return {
    delivered(sequence: number) {
      if (sequence > state.last) state.last = sequence;
    },
    leave() {
      if (!joined.members.delete(member) || joined.members.size > 0) return;
      clearInterval(joined.repair);
      joined.unsubscribe();
      if (hubs.get(generationId) === joined) hubs.delete(generationId);
    },
  };
}

const PAGE = 500;

/**
 * Events read from the database for one subscriber (history, or a gap being repaired) carry the page they
 * were read in: one object shared by the events of that read, so what they point at (their generation) can
 * be loaded once per page instead of once per event. Live events have no page: they are shared already.
 */
const pages = new WeakMap<GenerationEvent, object>();

/** The history page a replayed event was read in (shared by every event of that read), if it was replayed. */
export function replayPageOf(event: GenerationEvent): object | undefined {
  return pages.get(event);
}

function asPage(events: GenerationEvent[]): GenerationEvent[] {
  const page = {};
  for (const event of events) pages.set(event, page);
  return events;
}

/**
 * One generation's events after `afterSequence`: first the history from the database, then live events,
 * strictly in sequence order with no gaps or repeats, ending after the terminal event. Null when
 * `readStart` finds no generation (unknown, or not the caller's).
 *
 * We listen before reading anything, so nothing published in between is missed; live messages at or below
 * the last delivered sequence are dropped (already sent), and a message that skips ahead (a lost or
 * reordered publish, e.g. from another instance) is repaired by re-reading the gap from the database.
 * `readStart` is one read for the ownership check, the status, the last sequence and the first history page;
 * the stream needs no other read unless the history is longer than a page or a publish goes astray.
 */
export async function openGenerationEventStream(
  bus: EventBus,
  store: GenerationStore,
  generationId: string,
  afterSequence: number,
  readStart: (afterSequence: number, limit: number) => Promise<SubscriptionStart | null>,
  repairMs = 5_000,
): Promise<AsyncIterableIterator<GenerationEvent> | null> {
  const stream = new GenerationEventStream(store, generationId, afterSequence, (receive) => joinHub(bus, store, generationId, repairMs, receive));
  let start: SubscriptionStart | null;
  try {
    start = await readStart(afterSequence, PAGE);
  } catch (error) {
    await stream.return();
    throw error;
  }
  if (!start) {
    await stream.return();
    return null;
  }
  stream.begin(start);
  return stream;
}

/**
 * The subscriber's side of openGenerationEventStream, pulled one event at a time. A hand-written iterator
 * rather than a Repeater: at thousands of subscribers per event, the cost of each hand-off is paid once per
 * subscriber per event, and this one is a few microtasks. Nothing is kept once handed out (the first
 * history page included), so an idle subscription holds only its position.
 */
class GenerationEventStream implements AsyncIterableIterator<GenerationEvent> {
  private last: number;
  private highestSeen: number;
  /** Events read from the database, waiting to be handed out in order. */
  private pending: GenerationEvent[] = [];
  /** More history to read after `pending`: its last read came back full, or a gap was announced. */
  private readMore = false;
  private start: SubscriptionStart | null = null;
  private ended = false;
  private stopped = false;
  private pulling: Promise<IteratorResult<GenerationEvent>> | null = null;
  private waiting: (() => void) | null = null;

  private readonly store: GenerationStore;
  private readonly generationId: string;
  private readonly membership: { delivered(sequence: number): void; leave(): void };
  /** Live events from the hub, not yet looked at. */
  private readonly inbox: GenerationEvent[] = [];

  /** Joins the hub at once (`join`), so nothing published from now on is missed; begin() hands the start read. */
  constructor(
    store: GenerationStore,
    generationId: string,
    afterSequence: number,
    join: (receive: (event: GenerationEvent) => void) => { delivered(sequence: number): void; leave(): void },
  ) {
    this.store = store;
    this.generationId = generationId;
    this.last = afterSequence;
    this.highestSeen = afterSequence;
    this.membership = join((event) => {
      this.inbox.push(event);
      this.waiting?.();
    });
    this.membership.delivered(afterSequence);
  }

  begin(start: SubscriptionStart) {
    this.start = start;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<GenerationEvent>> {
    // One pull at a time: a second caller waits for the first (the transports never overlap them).
    if (this.pulling) return this.pulling.then(() => this.next());
    const pull = this.pull().finally(() => {
      if (this.pulling === pull) this.pulling = null;
    });
    this.pulling = pull;
    return pull;
  }

  async return(): Promise<IteratorResult<GenerationEvent>> {
    this.stop();
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<GenerationEvent>> {
    this.stop();
    throw error;
  }

  private stop() {
    this.stopped = true;
    this.start = null;
    this.pending = [];
    this.membership.leave();
    this.waiting?.();
  }

  private async pull(): Promise<IteratorResult<GenerationEvent>> {
    try {
      for (;;) {
        if (this.stopped || this.ended) {
          if (!this.stopped) this.stop();
          return { value: undefined, done: true };
        }
        // History first: the start read's page, then further pages (a long log, or a gap to repair).
        if (this.start) {
          const start = this.start;
          this.start = null;
          this.pending = asPage(start.events);
          this.readMore = start.events.length === PAGE;
          // A finished generation whose history the caller already has (afterSequence at or past its
          // terminal event): nothing more will ever come. The start read saw status and last sequence at once.
          if (start.events.length === 0 && isTerminal(start.status) && start.lastSequence <= this.last) this.ended = true;
          continue;
        }
        const event = this.pending.shift();
        if (event) {
          if (event.sequence === this.last + 1) return this.hand(event);
          // Already handed out, or a hole in the page (cannot happen: sequences have no gaps).
          continue;
        }
        if (this.readMore) {
          const page = asPage(await this.store.eventsAfter(this.generationId, this.last, PAGE));
          this.pending = page;
          this.readMore = page.length === PAGE;
          continue;
        }
        const next = this.inbox.shift();
        if (!next) {
          await new Promise<void>((resolve) => (this.waiting = resolve));
          this.waiting = null;
          continue;
        }
        if (next.sequence <= this.last) {
          // The terminal event at or below what the caller has (an afterSequence past the end of a generation
          // that finished after the start read): nothing more will come.
          if (isTerminalEvent(next)) this.ended = true;
          continue;
        }
        if (next.sequence > this.highestSeen) this.highestSeen = next.sequence;
        if (next.sequence === this.last + 1) return this.hand(next);
        // Two writers can commit out of order (the later sequence first): whatever was announced but not yet
        // handed out is read from the database, now or when the missing event's own message arrives.
        this.readMore = true;
      }
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  private hand(event: GenerationEvent): IteratorResult<GenerationEvent> {
    this.last = event.sequence;
    this.membership.delivered(event.sequence);
    if (isTerminalEvent(event)) this.ended = true;
    // Announced events past this one that are not in hand yet are read on the next pull.
    if (this.pending.length === 0 && this.highestSeen > this.last) this.readMore = true;
    return { value: event, done: false };
  }
}

/** Ids of generations as they change, for live dashboards; the caller re-reads each row. */
export function generationUpdateStream(bus: EventBus, accept: (message: GenerationUpdatedMessage) => boolean): AsyncIterableIterator<GenerationUpdatedMessage> {
  return new Repeater<GenerationUpdatedMessage>(async (push, stop) => {
    const unsubscribe = bus.subscribe<GenerationUpdatedMessage>(topics.generationsUpdated, (message) => {
      if (accept(message)) void push(message);
    });
    await stop;
    unsubscribe();
    // A buffer rather than back-pressure: the bus cannot wait for one slow dashboard.
  }, new FixedBuffer(4096));
}
