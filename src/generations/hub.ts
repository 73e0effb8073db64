import { topics, type EventBus } from '../pubsub/index.ts';
import { fromMessage, type GenerationEventMessage, type GenerationUpdatedMessage } from './events.ts';
import { LiveEvents, type LiveEvent, type LiveUpdate } from './live-event.ts';
import type { GenerationStore } from './store.ts';

/** A subscriber's place in a generation's hub. */
export interface HubMembership {
  /** The member handed out everything up to `sequence`: the hub's repair read starts after the least advanced. */
  delivered(sequence: number): void;
  leave(): void;
}

/**
 * One hub per generation per process, shared by all of its local subscribers: one bus listener, one
 * message-to-LiveEvent conversion per published event (so every subscriber is handed the same object, and
 * what is computed for it, see live-event.ts, is computed once), and one repair read per interval instead of
 * one per subscriber. Subscribers still keep their own position and order; the hub only feeds their inboxes.
 */
interface Hub {
  /** Each member's inbox and the last sequence it delivered. */
  members: Map<(event: LiveEvent) => void, { last: number }>;
  unsubscribe: () => void;
  repair: ReturnType<typeof setInterval>;
}

/** The hubs of one bus (one bus per app), so apps in one process (tests, benchmarks) never share one. */
const hubsByBus = new WeakMap<EventBus, Map<string, Hub>>();

export function joinHub(
  bus: EventBus,
  store: GenerationStore,
  generationId: string,
  repairMs: number,
  member: (event: LiveEvent) => void,
): HubMembership {
  let hubs = hubsByBus.get(bus);
  if (!hubs) hubsByBus.set(bus, (hubs = new Map<string, Hub>()));
  let hub = hubs.get(generationId);
  if (!hub) {
    const members = new Map<(event: LiveEvent) => void, { last: number }>();
    const liveEvents = new LiveEvents();
    // Every member gets the very object made here: a copy would lose what the others computed for it.
    const dispatch = (event: LiveEvent) => {
      for (const deliver of members.keys()) deliver(event);
    };
    let repairing = false;
    hub = {
      members,
      unsubscribe: bus.subscribe<GenerationEventMessage>(topics.generationEvents(generationId), (message) =>
        dispatch(liveEvents.published(fromMessage(message))),
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
            for (const event of liveEvents.read(events)) dispatch(event);
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

/** The one listener of a bus for dashboard updates, and the subscribers it feeds. */
interface UpdatesHub {
  members: Set<(update: LiveUpdate) => void>;
  unsubscribe: () => void;
}

const updatesByBus = new WeakMap<EventBus, UpdatesHub>();

/**
 * Joins the bus' updates hub (videoGenerationUpdated): one bus listener per process, and one LiveUpdate per
 * published message handed to every local subscriber, so a dashboard's selection is executed once per cohort
 * (http/cohort.ts). Registers synchronously, like the bus. Returns the leave function.
 */
export function joinUpdates(bus: EventBus, member: (update: LiveUpdate) => void): () => void {
  let hub = updatesByBus.get(bus);
  if (!hub) {
    const members = new Set<(update: LiveUpdate) => void>();
    const liveEvents = new LiveEvents();
    hub = {
      members,
      unsubscribe: bus.subscribe<GenerationUpdatedMessage>(topics.generationsUpdated, (message) => {
        const update = liveEvents.update(message);
        for (const deliver of members) deliver(update);
      }),
    };
    updatesByBus.set(bus, hub);
  }
  const joined = hub;
  joined.members.add(member);
  return () => {
    if (!joined.members.delete(member) || joined.members.size > 0) return;
    joined.unsubscribe();
    if (updatesByBus.get(bus) === joined) updatesByBus.delete(bus);
  };
}
