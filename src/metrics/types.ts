/**
 * What the counting modules see of the metrics: plain calls with bounded label values, no prom-client types,
 * so the domain (src/generations), the fal gateway and the archiver stay free of the metrics library.
 *
 * Every label takes its value from one of these sets and nothing else (never an id, a tenant or a message),
 * and every value is exported as zero from start-up, so dashboards and alerts never see a gap.
 */
export const FINISHED_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;
/** One per method of the fal gateway (src/fal/types.ts). */
export const FAL_OPERATIONS = ['submit', 'status', 'stream', 'result', 'cancel', 'upload'] as const;
/** ok: fal answered as the protocol says it may (a 404 to a cancel included); error: an error answer or no answer. */
export const FAL_OUTCOMES = ['ok', 'error'] as const;
export const SUBSCRIPTION_TRANSPORTS = ['graphql-ws', 'sse'] as const;
/** The archive row's state after the attempt (RETRYING: will be tried again, FAILED: given up). */
export const ARCHIVE_OUTCOMES = ['archived', 'retrying', 'failed'] as const;

export type FinishedStatus = (typeof FINISHED_STATUSES)[number];
export type FalOperation = (typeof FAL_OPERATIONS)[number];
export type FalOutcome = (typeof FAL_OUTCOMES)[number];
export type SubscriptionTransport = (typeof SUBSCRIPTION_TRANSPORTS)[number];
export type ArchiveOutcome = (typeof ARCHIVE_OUTCOMES)[number];

export interface MetricsSink {
  generationCreated(): void;
  /** A generation reached a final state (counted once: by the instance whose guarded write made it final). */
  generationFinished(status: string): void;
  /** Registers a source of "generations this instance tracks now", read at each scrape. */
  trackedBy(count: () => number): void;
  falRequest(operation: FalOperation, outcome: FalOutcome): void;
  logLinesIngested(count: number): void;
  /** A live event carrying fal's timestamp was handed to the subscribers' bus just now. */
  eventHandedOff(falTimestamp: Date): void;
  /** A subscription opened; the returned function closes it (calling it again does nothing). */
  subscriptionOpened(transport: SubscriptionTransport): () => void;
  archiveAttempt(outcome: ArchiveOutcome): void;
}
