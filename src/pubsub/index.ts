import { setMaxListeners } from 'node:events';

/**
 * The one seam between a single process and many: events travel over an EventTarget. In-memory by default;
 * over Redis (`@graphql-yoga/redis-event-target`, see ./redis.ts) when REDIS_URL is set. The choice is made
 * in app.ts and nothing else changes.
 */
export interface EventBus {
  publish<T>(topic: string, payload: T): void;
  /**
   * Publishes several payloads of one topic as ONE message (one Redis PUBLISH), in order; every listener still
   * receives them one by one, in that order, as if each had been published alone. A write's events go out this
   * way, so the bus costs one message per write, not one per event.
   */
  publishMany<T>(topic: string, payloads: readonly T[]): void;
  /** Registers synchronously, so a caller can listen first and read the database second without a gap. */
  subscribe<T>(topic: string, listener: (payload: T) => void): () => void;
}

export interface BusEventTarget {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
  dispatchEvent(event: Event): boolean;
}

/**
 * The envelope of a publishMany message. Its key cannot be a payload's own field by accident (payloads are our
 * typed messages), and a plain payload never carries it, so single and batch messages share a topic. An
 * instance that predates batches cannot read the envelope: instances sharing one Redis must all run a version
 * with publishMany (stop the old ones before starting new ones, as for any change of the bus messages).
 */
const BATCH = 'reelgraph.batch';
interface BatchMessage<T> {
  [BATCH]: readonly T[];
}

function isBatch<T>(detail: unknown): detail is BatchMessage<T> {
  return typeof detail === 'object' && detail !== null && Array.isArray((detail as Partial<BatchMessage<T>>)[BATCH]);
}

/** `prefix` keeps deployments (and test runs) that share one Redis apart. */
export function createEventBus(target: BusEventTarget = createLocalTarget(), prefix = ''): EventBus {
  const dispatch = (topic: string, detail: unknown) => target.dispatchEvent(new CustomEvent(prefix + topic, { detail }));
  return {
    publish(topic, payload) {
      dispatch(topic, payload);
    },
    publishMany<T>(topic: string, payloads: readonly T[]) {
      if (payloads.length === 0) return;
      if (payloads.length === 1) dispatch(topic, payloads[0]);
      else dispatch(topic, { [BATCH]: payloads } satisfies BatchMessage<T>);
    },
    subscribe<T>(topic: string, listener: (payload: T) => void) {
      // Split back into payloads here, at the seam, so no listener ever sees an envelope.
      const handler = (event: Event) => {
        const detail = (event as CustomEvent<unknown>).detail;
        if (!isBatch<T>(detail)) return listener(detail as T);
        // A listener that throws on one payload still gets the rest, as it would from separate messages.
        let failure: { error: unknown } | null = null;
        for (const payload of detail[BATCH]) {
          try {
            listener(payload);
          } catch (error) {
            failure ??= { error };
          }
        }
        if (failure) throw failure.error;
      };
      target.addEventListener(prefix + topic, handler);
      return () => target.removeEventListener(prefix + topic, handler);
    },
  };
}

function createLocalTarget(): EventTarget {
  const target = new EventTarget();
  // One listener per subscriber on a topic is the design, not a leak: lift Node's warning threshold of 10.
  setMaxListeners(0, target);
  return target;
}

/** Topic names, in one place so publishers and subscribers cannot drift apart. */
export const topics = {
  /** Every event (status or log) of one generation, payload: the event, or after Redis its GenerationEventMessage (PublishedEvent; one message per write, see publishMany). */
  generationEvents: (generationId: string) => `generation:${generationId}:events`,
  /** Any change to any generation, payload: { id, tenantId }. */
  generationsUpdated: 'generations:updated',
  /** "Look at this generation now" (a webhook arrived elsewhere), payload: { id }. */
  trackingNudge: 'generations:nudge',
} as const;
