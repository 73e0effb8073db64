import type { GenerationEvent } from './events.ts';
import type { HubMembership } from './hub.ts';
import { PUSH, type Push, type Pushable } from './push.ts';
import { isLive, LiveEvents, type LiveEvent } from './live-event.ts';
import { isTerminal } from './status.ts';
import type { GenerationStore } from './store.ts';
import type { SubscriptionStart } from './subscription-reads.ts';
import type { SubscriberStream, TooSlow } from './too-slow.ts';

/** Events read from the database at a time (the start read's page, and every later history read). */
export const PAGE = 500;

const isTerminalEvent = (event: GenerationEvent) => event.kind === 'STATUS' && isTerminal(event.status);

/**
 * The subscriber's side of openGenerationEventStream, pulled one event at a time. A hand-written iterator
 * rather than a Repeater: at thousands of subscribers per event, the cost of each hand-off is paid once per
 * subscriber per event, and this one is a few microtasks. Nothing is kept once handed out (the first
 * history page included), so an idle subscription holds only its position.
 */
export class GenerationEventStream implements SubscriberStream<LiveEvent>, Pushable<LiveEvent> {
  private last: number;
  private highestSeen: number;
  /** Events read from the database, waiting to be handed out in order. */
  private pending: LiveEvent[] = [];
  /** More history to read after `pending`: its last read came back full, or a gap was announced. */
  private readMore = false;
  private start: SubscriptionStart | null = null;
  private ended = false;
  private stopped = false;
  private pulling: Promise<IteratorResult<LiveEvent>> | null = null;
  private waiting: (() => void) | null = null;

  private readonly store: GenerationStore;
  private readonly generationId: string;
  private readonly membership: HubMembership;
  /** Makes the LiveEvents of this subscriber's own reads (history pages, gaps): one per event, a memo per page. */
  private readonly replayed = new LiveEvents();
  /** Live events from the hub, not yet looked at; at most the subscriber buffer (see receive()). */
  private inbox: LiveEvent[] = [];
  /** The inbox overflowed and was dropped, and the transport has asked for no event since. */
  private droppedUnread = false;
  private readonly tooSlow: TooSlow;
  /** The transport's push (push.ts), when it takes live events as they come. */
  private push: Push<LiveEvent> | null = null;
  /** The puller is parked with nothing in hand: the next live event in sequence goes straight to `push`. */
  private pushing = false;

  /** Joins the hub at once (`join`), so nothing published from now on is missed; begin() hands the start read. */
  constructor(
    store: GenerationStore,
    generationId: string,
    afterSequence: number,
    join: (receive: (event: LiveEvent) => void) => HubMembership,
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

  [PUSH](push: Push<LiveEvent>) {
    this.push = push;
  }

  /**
   * A live event from the hub. The database is the truth for a generation's events (each is committed before
   * it is published), so a full inbox need not end the subscription: it is dropped and what it held is read
   * back from the database, a page at a time, when the subscriber asks for it. A subscriber that is slow but
   * reading stays correct, in order and without gaps, in bounded memory. One that takes no event at all while
   * a second inbox fills has stopped reading (its transport is stuck on a full socket buffer): it is ended, so
   * its connection is not held open for ever.
   */
  private receive(event: LiveEvent) {
    if (this.stopped) return;
    if (this.pushing) {
      // Caught up, and this is the very next event: the transport takes it now, with no hand-off.
      if (event.sequence === this.last + 1 && this.push!(event)) {
        if (event.sequence > this.highestSeen) this.highestSeen = event.sequence;
        this.hand(event);
        // After the terminal event the parked puller ends the stream (the transport writes what it took first).
        if (this.ended) this.waiting?.();
        return;
      }
      // Anything else is ordered by the puller, and so is every event after it until it is parked again.
      this.pushing = false;
    }
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

  /** The start (from the hub's cache, or the database): null when there is no such generation for `tenantId`. */
  async begin(tenantId: string | null, read: (afterSequence: number, limit: number) => Promise<SubscriptionStart | null>) {
    const start = await this.membership.start(this.last, tenantId, read);
    if (start) this.start = start;
    return start !== null;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<LiveEvent>> {
    this.droppedUnread = false;
    // One pull at a time: a second caller waits for the first (the transports never overlap them).
    if (this.pulling) return this.pulling.then(() => this.next());
    return this.caughtUp() ? this.park() : this.startPull();
  }

  private startPull(): Promise<IteratorResult<LiveEvent>> {
    const pull = this.pull().finally(() => {
      if (this.pulling === pull) this.pulling = null;
    });
    this.pulling = pull;
    return pull;
  }

  /** Nothing to hand out or read: a pull would go straight to waiting for the next event. */
  private caughtUp(): boolean {
    return !this.stopped && !this.ended && this.start === null && this.pending.length === 0 && !this.readMore && this.inbox.length === 0;
  }

  /**
   * Waits for the next event as a pull would, without running one: an idle subscription (most of them, most of
   * the time) then holds one pending promise and its wake-up, not a suspended pull with its own promises. The
   * wake-up (anything that would wake a parked pull: an event for the inbox, the end, a stop) starts the pull.
   */
  private park(): Promise<IteratorResult<LiveEvent>> {
    const parked = new Promise<IteratorResult<LiveEvent>>((resolve) => {
      this.waiting = () => {
        this.waiting = null;
        this.pushing = false;
        this.pulling = null;
        resolve(this.startPull());
      };
    });
    this.pulling = parked;
    this.pushing = this.push !== null;
    return parked;
  }

  return(): Promise<IteratorResult<LiveEvent>> {
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<LiveEvent>> {
    this.stop();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the iterator protocol passes throw()'s argument on as given
    return Promise.reject(error);
  }

  private stop() {
    this.stopped = true;
    this.pushing = false;
    this.start = null;
    this.pending = [];
    this.inbox = [];
    this.membership.leave();
    this.waiting?.();
  }

  private async pull(): Promise<IteratorResult<LiveEvent>> {
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
          // Events from the hub's cache are LiveEvents already, shared with every subscriber replaying them.
          this.pending = start.events.every(isLive) ? start.events : this.replayed.read(start.events);
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
          const page =
            (await this.membership.cached(this.last, PAGE)) ??
            this.replayed.read(await this.store.eventsAfter(this.generationId, this.last, PAGE));
          this.pending = page;
          this.readMore = page.length === PAGE;
          continue;
        }
        const next = this.inbox.shift();
        if (!next) {
          this.pushing = this.push !== null;
          await new Promise<void>((resolve) => (this.waiting = resolve));
          this.waiting = null;
          this.pushing = false;
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

  private hand(event: LiveEvent): IteratorResult<LiveEvent> {
    this.last = event.sequence;
    this.membership.delivered(event.sequence);
    if (isTerminalEvent(event)) this.ended = true;
    // Announced events past this one that are not in hand yet are read on the next pull.
    if (this.pending.length === 0 && this.highestSeen > this.last) this.readMore = true;
    return { value: event, done: false };
  }
}
