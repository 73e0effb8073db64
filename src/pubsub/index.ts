import { setMaxListeners } from 'node:events';

/**
 * The one seam between a single process and many: events travel over an EventTarget. In-memory by default;
 * over Redis (`@graphql-yoga/redis-event-target`, see ./redis.ts) when REDIS_URL is set. The choice is made
 * in app.ts and nothing else changes.
 */
export interface EventBus {
  publish<T>(topic: string, payload: T): void;
  /** Registers synchronously, so a caller can listen first and read the database second without a gap. */
  subscribe<T>(topic: string, listener: (payload: T) => void): () => void;
}

export interface BusEventTarget {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
  dispatchEvent(event: Event): boolean;
}

/** `prefix` keeps deployments (and test runs) that share one Redis apart. */
export function createEventBus(target: BusEventTarget = createLocalTarget(), prefix = ''): EventBus {
  return {
    publish(topic, payload) {
      target.dispatchEvent(new CustomEvent(prefix + topic, { detail: payload }));
    },
    subscribe<T>(topic: string, listener: (payload: T) => void) {
      const handler = (event: Event) => listener((event as CustomEvent<T>).detail);
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
  /** Every event (status or log) of one generation, payload: GenerationEventMessage. */
  generationEvents: (generationId: string) => `generation:${generationId}:events`,
  /** Any change to any generation, payload: { id, tenantId }. */
  generationsUpdated: 'generations:updated',
  /** "Look at this generation now" (a webhook arrived elsewhere), payload: { id }. */
  trackingNudge: 'generations:nudge',
} as const;
