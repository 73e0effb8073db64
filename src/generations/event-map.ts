import type { GenerationLogLine } from './events.ts';
import type { GenerationStatus } from './status.ts';

/**
 * What the domain tells the rest of the process, after the write that made it true has committed. These are
 * facts about generations (the logger, the archiver and tests listen), not the pub/sub messages subscribers
 * get: those stay small and cross instances; these are local to the instance whose write it was.
 */
export interface GenerationEventMap {
  /** A new generation row was inserted (a retried request with the same idempotency key creates none). */
  created: { generationId: string; tenantId: string; at: Date };
  /** fal accepted the request: from here on it is paid for, and its request id is known. */
  submitted: { generationId: string; tenantId: string; falRequestId: string };
  /** A guarded status write applied (PENDING included, right after `created`); each is reported once. */
  transition: {
    generationId: string;
    tenantId: string;
    status: GenerationStatus;
    sequence: number;
    queuePosition: number | null;
    at: Date;
  };
  /** Model log lines were appended (one event per write, in order). */
  log: { generationId: string; tenantId: string; lines: GenerationLogLine[] };
}

export type GenerationEventName = keyof GenerationEventMap;
export type GenerationListener<K extends GenerationEventName> = (payload: GenerationEventMap[K]) => void;

/** The subscribe side, as the facade exposes it. */
export interface GenerationEvents {
  /** Listens until the returned function (or off) is called. */
  on<K extends GenerationEventName>(event: K, listener: GenerationListener<K>): () => void;
  off<K extends GenerationEventName>(event: K, listener: GenerationListener<K>): void;
}

export interface GenerationEmitter extends GenerationEvents {
  emit<K extends GenerationEventName>(event: K, payload: GenerationEventMap[K]): void;
}

/**
 * A small synchronous typed emitter. Listeners run in the emitting call's log context; one that throws is
 * reported to `onListenerError` and never breaks the write path that emitted (the row is already written).
 */
export function createGenerationEmitter(onListenerError: (event: GenerationEventName, error: unknown) => void): GenerationEmitter {
  const listeners = new Map<GenerationEventName, Set<(payload: never) => void>>();
  const setOf = (event: GenerationEventName) => {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    return set;
  };
  return {
    on(event, listener) {
      setOf(event).add(listener);
      return () => setOf(event).delete(listener);
    },
    off(event, listener) {
      setOf(event).delete(listener);
    },
    emit(event, payload) {
      for (const listener of [...setOf(event)]) {
        try {
          (listener as (p: typeof payload) => void)(payload);
        } catch (error) {
          onListenerError(event, error);
        }
      }
    },
  };
}
