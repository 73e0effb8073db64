import type { EventEmitter } from 'node:events';

/** How one simulated request behaves; fixed at submit time from the simulator's current configuration. */
export interface SimulatorBehaviour {
  /** Starting queue position (0-based, like fal's), counting down to 0. */
  queuePosition: number;
  /** Time per queue step, including the last one from position 0 to IN_PROGRESS. */
  queueStepMs: number;
  logCount: number;
  logIntervalMs: number;
  /** Time between the last log line and COMPLETED. */
  completeDelayMs: number;
  /**
   * What the result endpoint answers once the request is COMPLETED (input validation errors win). An error
   * body's `error_type` is also sent as `X-Fal-Error-Type` (protocol §5.1); webhooks report the same outcome.
   */
  outcome: { kind: 'success' } | { kind: 'error'; status: number; body: unknown; headers?: Record<string, string> };
  /** Every stream connection for this request is closed by the server (without COMPLETED) after N data events. */
  dropStreamAfterEvents?: number;
  /** The stream stays open after COMPLETED: the real client then hangs (protocol §4.5). */
  streamNeverCloses?: boolean;
  /** Each stream event is sent this much later than it happened (a slow or congested stream). */
  streamDelayMs?: number;
  /**
   * The result is gone by the time anyone asks: 404 (fal keeps results for a limited time, protocol §5). A
   * webhook, sent at completion, still carries the real outcome.
   */
  resultExpired?: boolean;
  /** Hold the request before this step until resume(requestId) (or completeNow / cancel). */
  pauseBefore?: 'IN_PROGRESS' | 'COMPLETED';
  /**
   * A running request stops (and completes with a "cancelled" error) when cancelled. fal leaves this to the
   * app (protocol §6); the default, false, keeps it running to completion.
   */
  honourCancelWhileRunning?: boolean;
}

export interface SimulatorOptions {
  host?: string;
  port?: number;
  behaviour?: Partial<SimulatorBehaviour>;
  /** `realistic` (default) takes seconds per step, for keyless local runs; `fast` takes milliseconds, for tests. */
  preset?: 'realistic' | 'fast';
  /** Interval of `: keepalive` comments on status streams (protocol §4: 15 s). */
  keepaliveMs?: number;
  /**
   * Requests IN_PROGRESS at once (default unlimited); more wait IN_QUEUE at position 0, normal priority before
   * low, and are never rejected (protocol §9).
   */
  maxConcurrent?: number;
  /** Webhook attempts per completion and the first retry delay, doubling after (default 10 and 1 s; protocol §7.1). */
  webhookRetry?: { attempts: number; baseDelayMs: number };
  /** When set, requests must carry `Authorization: Key <expectedKey>` (401 otherwise). */
  expectedKey?: string;
  /** Diagnostics sink (submits, completions, webhook failures, internal errors); silent by default. Never gets keys. */
  log?: (line: string) => void;
  /**
   * Keep every request (and uploaded file) in this directory, so a simulator restarted on it carries on with
   * them where fal would be (the app's own keyless simulator uses DATA_DIR/simulator). It also listens on the
   * port of the previous run when that is free, so output URLs handed out before a restart still resolve.
   * Without it (tests' simulators), everything is in memory.
   */
  stateDir?: string;
  /** Problems with the kept state (a corrupt job file, the previous port taken, a failed write); defaults to `log`. */
  warn?: (line: string) => void;
}

/** `upload` is the storage initiate call (single or multipart); `file` is a GET of an output video. */
export type FaultRoute = 'submit' | 'status' | 'stream' | 'result' | 'cancel' | 'upload' | 'file';

export interface InjectedResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sent as-is instead of JSON-encoding body (non-JSON error pages). */
  rawBody?: string;
}

/** Hits per route, counted whatever the answer (injected fault, unknown id, success), so retries show up. */
export interface SimulatorStats {
  submits: number;
  statusPolls: number;
  streamsOpened: number;
  /** TCP connections accepted so far, and open right now (how a client reuses and ends its connections). */
  connectionsAccepted: number;
  openConnections: number;
  /** Status streams open right now. */
  openStreams: number;
  resultFetches: number;
  cancels: number;
  /** Storage initiate calls (one per uploaded file). */
  uploads: number;
  /** Webhook delivery attempts that got an HTTP answer (2xx or not). */
  webhookDeliveries: number;
}

export interface FalLogEntry {
  message: string;
  level: string;
  source: string;
  timestamp: string;
}

export interface SimulatedRequest {
  id: string;
  endpointId: string;
  input: unknown;
  /** Request headers at submit, with Authorization removed. */
  headers: Record<string, string>;
  status: 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED';
  queuePosition: number;
  logs: FalLogEntry[];
  /** Actually stopped by a cancel (queued, or running with honourCancelWhileRunning); its result is a 400. */
  cancelled: boolean;
  webhookUrl?: string;
  behaviour: SimulatorBehaviour;
  /** Status stream connections opened for this request (one tracker per generation means one, normally). */
  streamConnections: number;
}

export interface FalSimulator {
  /** Origin, e.g. http://127.0.0.1:43123 (valid after start()). Serves both the queue and the REST paths. */
  readonly url: string;
  readonly jwksUrl: string;
  readonly stats: SimulatorStats;
  readonly requests: ReadonlyMap<string, SimulatedRequest>;
  /**
   * 'submit'(req), 'status-change'(req), 'log'(req, line), 'fault'(route) when an injected response is served,
   * 'connections'() when a TCP connection opens or closes (stats.openConnections), and 'event'({ requestId, at, data }) at the instant
   * each status or log event is produced (`at` in epoch milliseconds with sub-millisecond precision).
   */
  readonly events: EventEmitter;
  start(): Promise<void>;
  /** Closes every stream and socket and clears every timer; idempotent. */
  stop(): Promise<void>;
  /** Applies to requests submitted from now on. */
  configure(behaviour: Partial<SimulatorBehaviour>): void;
  /** The next `times` hits of a route get this response instead. */
  failNext(route: FaultRoute, response: InjectedResponse, times?: number): void;
  resume(requestId: string): void;
  /** Skips the remaining steps. */
  completeNow(requestId: string): void;
  /** Headers for a webhook delivery of `body`, signed with the simulator's key (protocol §7.3). */
  signWebhook(body: string, requestId: string, opts?: { timestamp?: number }): Record<string, string>;
}
