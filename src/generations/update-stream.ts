import type { EventBus } from '../pubsub/index.ts';
import type { GenerationUpdatedMessage } from './events.ts';
import { joinUpdates } from './hub.ts';
import type { LiveUpdate } from './live-event.ts';
import { TooSlow, type SubscriberLimits, type SubscriberStream } from './too-slow.ts';

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
): SubscriberStream<LiveUpdate> {
  const tooSlow = new TooSlow(limits, 'videoGenerationUpdated');
  let queue: LiveUpdate[] = [];
  let waiting: ((result: IteratorResult<LiveUpdate>) => void) | null = null;
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
  const unsubscribe = joinUpdates(bus, (message) => {
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
    return() {
      end();
      return Promise.resolve(done);
    },
    throw(error?: unknown) {
      end();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the iterator protocol passes throw()'s argument on as given
      return Promise.reject(error);
    },
  };
}
