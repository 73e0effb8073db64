import { FixedBuffer, Repeater } from '@repeaterjs/repeater';
import { topics, type EventBus } from '../pubsub/index.ts';
import { fromMessage, type GenerationEvent, type GenerationEventMessage, type GenerationUpdatedMessage } from './events.ts';
import { isTerminal } from './status.ts';
import type { GenerationStore } from './store.ts';

const isTerminalEvent = (event: GenerationEvent) => event.kind === 'STATUS' && isTerminal(event.status);

/**
 * One generation's events after `afterSequence`: first the history from the database, then live events,
 * strictly in sequence order with no gaps or repeats, ending after the terminal event.
 *
 * We listen before reading history, so nothing published in between is missed; live messages at or below
 * the last delivered sequence are dropped (already sent), and a message that skips ahead (a lost or
 * reordered publish, e.g. from another instance) is repaired by re-reading the gap from the database.
 */
export function generationEventStream(
  bus: EventBus,
  store: GenerationStore,
  generationId: string,
  afterSequence: number,
  repairMs = 5_000,
): AsyncIterableIterator<GenerationEvent> {
  return new Repeater<GenerationEvent>(async (push, stop) => {
    const inbox: GenerationEvent[] = [];
    let wake: (() => void) | null = null;
    let stopped = false;
    const unsubscribe = bus.subscribe<GenerationEventMessage>(topics.generationEvents(generationId), (message) => {
      inbox.push(fromMessage(message));
      wake?.();
    });
    // A published event can be lost in transit (Redis restarting): an idle subscriber looks at the database
    // now and then, so it still gets every event, and its completion, without a gap.
    let repairDue = false;
    const repair = setInterval(() => {
      repairDue = true;
      wake?.();
    }, repairMs);
    void stop.then(() => {
      stopped = true;
      clearInterval(repair);
      unsubscribe();
      wake?.();
    });

    let last = afterSequence;
    let highestSeen = afterSequence;
    let ended = false;
    const deliver = async (events: GenerationEvent[]) => {
      for (const event of events) {
        if (stopped || ended || event.sequence !== last + 1) return;
        last = event.sequence;
        await push(event);
        if (isTerminalEvent(event)) ended = true;
      }
    };
    const catchUp = async () => {
      // Page through history so a long log never needs one huge read.
      for (;;) {
        const page = await store.eventsAfter(generationId, last, 500);
        await deliver(page);
        if (page.length < 500 || stopped || ended) return;
      }
    };

    try {
      await catchUp();
      // Nothing more will ever come for a finished generation whose history the caller already has
      // (afterSequence at or past its terminal event).
      if (!ended && (await store.isFinishedAt(generationId, last))) ended = true;
      while (!stopped && !ended) {
        const next = inbox.shift();
        if (!next) {
          if (repairDue) {
            repairDue = false;
            await catchUp();
            if (!ended && (await store.isFinishedAt(generationId, last))) ended = true;
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        if (next.sequence <= last) continue;
        highestSeen = Math.max(highestSeen, next.sequence);
        if (next.sequence === last + 1) await deliver([next]);
        // Two writers can commit out of order (the later sequence first): whatever was announced but not
        // yet delivered is read from the database, now or when the missing event's own message arrives.
        if (highestSeen > last) await catchUp();
      }
    } finally {
      clearInterval(repair);
      unsubscribe();
      stop();
    }
  });
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
