import { topics, type EventBus } from '../pubsub/index.ts';
import { fromMessage, type GenerationEvent, type GenerationEventMessage, type GenerationUpdatedMessage } from './events.ts';
import { isTerminal } from './status.ts';
import type { GenerationStore } from './store.ts';
import type { SubscriptionStart } from './subscription-reads.ts';

const isTerminalEvent = (event: GenerationEvent) => event.kind === 'STATUS' && isTerminal(event.status);

/**
 * How many published events one subscriber may have waiting (not yet taken by its transport). The bus pushes
 * and cannot wait for one slow reader, and the transports stop taking events when their own socket buffer is
 * full (graphql-ws past SLOW_CLIENT_BYTES, SSE when the response is not drained), so without a bound a client
 * that stops reading would grow the server's memory with every event. Waiting events are references to
 * objects shared by every subscriber (one per published message), so the bound costs little.
 * SUBSCRIPTION_BUFFER_EVENTS sets it.
 */
export const SUBSCRIBER_BUFFER = 1_024;

/**
 * A subscription's events, which can end itself when its subscriber falls too far behind: then it stops
 * listening, drops what it holds, calls the callbacks given to onTooSlow (the transport closes the client's
 * connection: graphql-ws 4429, the SSE response ended) and completes.
 */
export interface SubscriberStream<T> extends AsyncIterableIterator<T> {
  onTooSlow(callback: () => void): void;
}

export interface SubscriberLimits {
  /** Events one subscriber may have waiting (default SUBSCRIBER_BUFFER). */
  buffer?: number;
  /** Where the end of a too-slow subscriber is told (a warning in the server log). */
  log?: (message: string) => void;
}

/** The too-slow signal of one stream: callbacks registered after it fired are called at once. */
class TooSlow {
  private callbacks: Array<() => void> = [];
  fired = false;

  readonly buffer: number;
  private readonly log: ((message: string) => void) | undefined;
  private readonly what: string;

  constructor(limits: SubscriberLimits, what: string) {
    this.buffer = limits.buffer ?? SUBSCRIBER_BUFFER;
    this.log = limits.log;
    this.what = what;
  }

  on(callback: () => void) {
    if (this.fired) callback();
    else this.callbacks.push(callback);
  }

  fire() {
    if (this.fired) return;
    this.fired = true;
    this.log?.(`subscriber too slow: ended its ${this.what} subscription (more than ${this.buffer} events waiting, none taken)`);
    for (const callback of this.callbacks.splice(0)) {
      try {
        callback();
      } catch {
        // The connection is already gone: nothing more to end.
      }
    }
  }
}

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
      unsubscribe: bus.subscribe<GenerationEventMessage>(topics.generationEvents(generationId), (message) =>
        dispatch(fromMessage(message)),
      ),
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
  limits: SubscriberLimits = {},
): Promise<SubscriberStream<GenerationEvent> | null> {
  const tooSlow = new TooSlow(limits, `videoGenerationEvents (generation ${generationId})`);
  const stream = new GenerationEventStream(
    store,
    generationId,
    afterSequence,
    (receive) => joinHub(bus, store, generationId, repairMs, receive),
    tooSlow,
  );
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
class GenerationEventStream implements SubscriberStream<GenerationEvent> {
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
  /** Live events from the hub, not yet looked at; at most the subscriber buffer (see receive()). */
  private inbox: GenerationEvent[] = [];
  /** The inbox overflowed and was dropped, and the transport has asked for no event since. */
  private droppedUnread = false;
  private readonly tooSlow: TooSlow;

  /** Joins the hub at once (`join`), so nothing published from now on is missed; begin() hands the start read. */
  constructor(
    store: GenerationStore,
    generationId: string,
    afterSequence: number,
    join: (receive: (event: GenerationEvent) => void) => { delivered(sequence: number): void; leave(): void },
    tooSlow: TooSlow,
  ) {
    this.store = store;
    this.generationId = generationId;
    this.last = afterSequence;
    this.highestSeen = afterSequence;
    this.tooSlow = tooSlow;
    this.membership = join((event) => this.receive(event));
    this.membership.delivered(afterSequence);
  }

  onTooSlow(callback: () => void) {
    this.tooSlow.on(callback);
  }

  /**
   * A live event from the hub. The database is the truth for a generation's events (each is committed before
   * it is published), so a full inbox need not end the subscription: it is dropped and what it held is read
   * back from the database, a page at a time, when the subscriber asks for it. A subscriber that is slow but
   * reading stays correct, in order and without gaps, in bounded memory. One that takes no event at all while
   * a second inbox fills has stopped reading (its transport is stuck on a full socket buffer): it is ended, so
   * its connection is not held open for ever.
   */
  private receive(event: GenerationEvent) {
    if (this.stopped) return;
    if (this.inbox.length >= this.tooSlow.buffer) {
      if (this.droppedUnread && this.pulling === null) {
        this.stop();
        this.tooSlow.fire();
        return;
      }
      for (const dropped of this.inbox) if (dropped.sequence > this.highestSeen) this.highestSeen = dropped.sequence;
      if (event.sequence > this.highestSeen) this.highestSeen = event.sequence;
      this.inbox = [];
      this.droppedUnread = true;
      if (this.highestSeen > this.last) this.readMore = true;
      // A terminal event among the dropped ones is read back with the rest; one at or below what was handed
      // out already was the end.
      if (isTerminalEvent(event) && event.sequence <= this.last) this.ended = true;
      this.waiting?.();
      return;
    }
    this.inbox.push(event);
    this.waiting?.();
  }

  begin(start: SubscriptionStart) {
    this.start = start;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<GenerationEvent>> {
    this.droppedUnread = false;
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
    this.inbox = [];
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

/**
 * Ids of generations as they change, for live dashboards; the caller re-reads each row. The bus cannot wait
 * for one slow dashboard, so each subscriber has a bounded queue; one that lets a buffer's worth of messages
 * pile up is ended (there is no history to re-read these from: a dashboard that reconnects re-queries its
 * list, which is the truth). A listener never throws into the bus, whatever the subscriber does.
 */
export function generationUpdateStream(
  bus: EventBus,
  accept: (message: GenerationUpdatedMessage) => boolean,
  limits: SubscriberLimits = {},
): SubscriberStream<GenerationUpdatedMessage> {
  const tooSlow = new TooSlow(limits, 'videoGenerationUpdated');
  let queue: GenerationUpdatedMessage[] = [];
  let waiting: ((result: IteratorResult<GenerationUpdatedMessage>) => void) | null = null;
  let ended = false;
  const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
  const end = () => {
    if (ended) return;
    ended = true;
    queue = [];
    unsubscribe();
    const wake = waiting;
    waiting = null;
    wake?.(done);
  };
  const unsubscribe = bus.subscribe<GenerationUpdatedMessage>(topics.generationsUpdated, (message) => {
    if (ended || !accept(message)) return;
    if (waiting) {
      const wake = waiting;
      waiting = null;
      wake({ value: message, done: false });
      return;
    }
    if (queue.length >= tooSlow.buffer) {
      end();
      tooSlow.fire();
      return;
    }
    queue.push(message);
  });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    onTooSlow: (callback) => tooSlow.on(callback),
    next() {
      const message = queue.shift();
      if (message) return Promise.resolve({ value: message, done: false });
      if (ended) return Promise.resolve(done);
      // One pull at a time (the transports never overlap them): a second one would replace the first.
      return new Promise((resolve) => (waiting = resolve));
    },
    async return() {
      end();
      return done;
    },
    async throw(error?: unknown) {
      end();
      throw error;
    },
  };
}
