import type { EventBus } from '../pubsub/index.ts';
import { GenerationEventStream, PAGE } from './event-stream.ts';
import { joinHub } from './hub.ts';
import type { LiveEvent } from './live-event.ts';
import type { GenerationStore } from './store.ts';
import type { SubscriptionStart } from './subscription-reads.ts';
import { TooSlow, type SubscriberLimits, type SubscriberStream } from './too-slow.ts';

// The subscription streams, in four parts: the hubs that fan published events out to local subscribers
// (hub.ts), the LiveEvents they hand out (live-event.ts), one subscriber's ordered, buffered stream with its
// history reads (event-stream.ts), and dashboards' update stream (update-stream.ts).
export { SUBSCRIBER_BUFFER, type SubscriberLimits, type SubscriberStream } from './too-slow.ts';
export { generationUpdateStream } from './update-stream.ts';

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
): Promise<SubscriberStream<LiveEvent> | null> {
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
