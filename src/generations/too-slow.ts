/**
 * How many published events one subscriber may have waiting (not yet taken by its transport). The bus pushes
 * and cannot wait for one slow reader, and the transports stop taking events when their own socket buffer is
 * full (graphql-ws past SLOW_CLIENT_BYTES, SSE when the response is not drained), so without a bound a client
 * that stops reading would grow the server's memory with every event. Waiting events are references to
 * the LiveEvents shared by every subscriber (one per published message, see live-event.ts), so the bound costs little.
 * SUBSCRIPTION_BUFFER_EVENTS sets it.
 */
export const SUBSCRIBER_BUFFER = 1_024;

/**
 * A subscription's events, which can end itself when its subscriber falls too far behind: then it stops
 * listening, drops what it holds, calls the callbacks given to onTooSlow (the transport closes the client's
 * connection: graphql-ws 4429, the SSE response ended) and completes.
 */
export interface SubscriberStream<T> extends AsyncIterableIterator<T> {
  onTooSlow(callback: () => void): void;
}

export interface SubscriberLimits {
  /** Events one subscriber may have waiting (default SUBSCRIBER_BUFFER). */
  buffer?: number;
  /** Where the end of a too-slow subscriber is told (a warning in the server log). */
  log?: (message: string) => void;
}

/** The too-slow signal of one stream: callbacks registered after it fired are called at once. */
export class TooSlow {
  private callbacks: Array<() => void> = [];
  fired = false;

  readonly buffer: number;
  private readonly log: ((message: string) => void) | undefined;
  private readonly what: string;

  constructor(limits: SubscriberLimits, what: string) {
    this.buffer = limits.buffer ?? SUBSCRIBER_BUFFER;
    this.log = limits.log;
    this.what = what;
  }

  on(callback: () => void) {
    if (this.fired) callback();
    else this.callbacks.push(callback);
  }

  fire() {
    if (this.fired) return;
    this.fired = true;
    this.log?.(`subscriber too slow: ended its ${this.what} subscription (more than ${this.buffer} events waiting, none taken)`);
    for (const callback of this.callbacks.splice(0)) {
      try {
        callback();
      } catch {
        // The connection is already gone: nothing more to end.
      }
    }
  }
}
