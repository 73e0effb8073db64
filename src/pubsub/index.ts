import { setMaxListeners } from 'node:events';

/**
 * The one seam between a single process and many: events travel over an EventTarget. In-memory by default;
 * `@graphql-yoga/redis-event-target` implements the same interface over Redis (issue: scale-out), so the
 * choice is made in app.ts and nothing else changes.
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

export function createEventBus(target: BusEventTarget = createLocalTarget()): EventBus {
  return {
    publish(topic, payload) {
      target.dispatchEvent(new CustomEvent(topic, { detail: payload }));
    },
    subscribe<T>(topic: string, listener: (payload: T) => void) {
      const handler = (event: Event) => listener((event as CustomEvent<T>).detail);
      target.addEventListener(topic, handler);
      return () => target.removeEventListener(topic, handler);
    },
  };
}

/** Topic names, in one place so publishers and subscribers cannot drift apart. */
export const topics = {
  /** Every event (status or log) of one generation, payload: GenerationEventMessage. */
  generationEvents: (generationId: string) => `generation:${generationId}:events`,
  /** Any change to any generation, payload: { id, tenantId }. */
  generationsUpdated: 'generations:updated',
} as const;

function createLocalTarget(): EventTarget {
  const target = new EventTarget();
  // One listener per subscriber on a topic is the design, not a leak: lift Node's warning threshold of 10.
  setMaxListeners(0, target);
  return target;
}
