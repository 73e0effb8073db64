/**
 * What a subscription's transport lets its resolver do besides sending results: end the subscriber's
 * connection because it fell too far behind its bounded buffer (see generations/too-slow.ts). Set on
 * every subscription's context by the cohort plugin (http/cohort.ts), for graphql-ws and SSE alike; a
 * context without it (a plain execute in a test) simply has nothing to close.
 */
export const END_SLOW_SUBSCRIBER = Symbol('reelgraph.endSlowSubscriber');

/** graphql-ws close code and reason for a subscriber that fell behind (4429, as HTTP's 429 Too Many Requests). */
export const SLOW_SUBSCRIBER_CLOSE = { code: 4429, reason: 'Subscriber too slow' } as const;

export interface SlowSubscriberContext {
  [END_SLOW_SUBSCRIBER]?: () => void;
}

/** Ends the connection of the subscription `context` belongs to, if its transport can. */
export function endSlowSubscriber(context: unknown): void {
  (context as SlowSubscriberContext | null)?.[END_SLOW_SUBSCRIBER]?.();
}
