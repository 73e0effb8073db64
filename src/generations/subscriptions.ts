import type { EventBus } from '../pubsub/index.ts';
import { GenerationEventStream } from './event-stream.ts';
import { joinHub, type HubOptions } from './hub.ts';
import type { LiveEvent } from './live-event.ts';
import type { GenerationStore } from './store.ts';
import type { SubscriptionStart } from './subscription-reads.ts';
import { TooSlow, type SubscriberLimits, type SubscriberStream } from './too-slow.ts';

// The subscription streams, in five parts: the hubs that fan published events out to local subscribers
// (hub.ts), each with its cache of the generation's owner, status and history (history-cache.ts), the
// LiveEvents they hand out (live-event.ts), one subscriber's ordered, buffered stream with its
// history reads (event-stream.ts), and dashboards' update stream (update-stream.ts).
export { SUBSCRIBER_BUFFER, type SubscriberLimits, type SubscriberStream } from './too-slow.ts';
export { generationUpdateStream } from './update-stream.ts';

/** Who subscribes, and how their start is read from the database when the hub's cache cannot answer. */
export interface SubscriberAccess {
  /** The caller's tenant (null: an admin, any tenant), checked against the cached owner. */
  tenantId: string | null;
  /** The ownership check, status, last sequence and first history page, as readSubscriptionStart reads them. */
  readStart: (afterSequence: number, limit: number) => Promise<SubscriptionStart | null>;
}

/**
 * One generation's events after `afterSequence`: first the history, then live events, strictly in sequence
 * order with no gaps or repeats, ending after the terminal event. Null when there is no generation (unknown,
 * or not the caller's).
 *
 * We listen before reading anything, so nothing published in between is missed; live messages at or below
 * the last delivered sequence are dropped (already sent), and a message that skips ahead (a lost or
 * reordered publish, e.g. from another instance) is repaired by re-reading the gap. The first subscriber's
 * start is one database read (`readStart`: ownership, status, last sequence, first history page), which
 * seeds the hub's cache (history-cache.ts); every later one is answered from the cache, with no read, while
 * the hub has members. Nothing else is read unless the history is longer than the cache or a publish goes
 * astray.
 */
export async function openGenerationEventStream(
  bus: EventBus,
  store: GenerationStore,
  generationId: string,
  afterSequence: number,
  access: SubscriberAccess,
  hub: HubOptions = {},
  limits: SubscriberLimits = {},
): Promise<SubscriberStream<LiveEvent> | null> {
  const tooSlow = new TooSlow(limits, `videoGenerationEvents (generation ${generationId})`);
  const stream = new GenerationEventStream(
    store,
    generationId,
    afterSequence,
    (receive) => joinHub(bus, store, generationId, hub, receive),
    tooSlow,
  );
  let found: boolean;
  try {
    found = await stream.begin(access.tenantId, access.readStart);
  } catch (error) {
    await stream.return();
    throw error;
  }
  if (!found) {
    await stream.return();
    return null;
  }
  return stream;
}
