/**
 * Push delivery: how a subscriber's stream hands live events to its transport the moment the hub publishes them,
 * instead of the transport pulling each one through the stream's async iterator (a promise and a few microtasks
 * per subscriber per event, at thousands of subscribers per event).
 *
 * A stream that supports it (GenerationEventStream) calls the transport's Push only while it is caught up: it has
 * handed out everything it holds and its puller is parked waiting for the next event. Then a live event that is
 * next in sequence is offered to Push, synchronously, from the hub's dispatch loop. Push returns true when the
 * transport took it (the stream counts it as handed out: position, delivered, end after the terminal event) and
 * false when it cannot take it now (its socket is slow to drain, an earlier result still needs the ordinary path):
 * the event then waits in the stream's bounded inbox and is pulled as before. Everything else (history, repair
 * reads, gaps, a slow subscriber) still goes through the pull path, so order, no gaps and the too-slow bound are
 * the stream's as before; push only skips the hand-off when there is nothing to order.
 */
export type Push<T> = (event: T) => boolean;

/** The method name under which a stream accepts its transport's Push (once, before its first pull). */
export const PUSH = Symbol('reelgraph.push');

export interface Pushable<T> {
  [PUSH](push: Push<T>): void;
}

/** True when `stream` can push its live events (see Push). */
export function isPushable<T>(stream: unknown): stream is Pushable<T> {
  return typeof (stream as Partial<Pushable<T>> | null)?.[PUSH] === 'function';
}
