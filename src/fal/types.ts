/**
 * The slice of fal's queue protocol the domain depends on, in our own words, so the domain never imports
 * @fal-ai/client. Shapes follow ../shared/reference/fal-queue-protocol.md §2-§5.
 */
export interface FalLogLine {
  message: string;
  level: string;
  /** fal's ISO-8601 timestamp, e.g. "2026-02-10T12:00:01.123456" (no zone suffix: UTC). */
  timestamp: string;
}

export type FalStatus =
  | { status: 'IN_QUEUE'; queuePosition: number | null; logs: FalLogLine[] }
  | { status: 'IN_PROGRESS'; logs: FalLogLine[] }
  | { status: 'COMPLETED'; logs: FalLogLine[]; error: string | null };

export interface FalVideoFile {
  url: string;
  contentType: string | null;
  fileName: string | null;
  fileSize: number | null;
}

/** Outcome of fetching a completed request's result: fal mirrors the model's own error (protocol §5). */
export type FalResult = { ok: true; video: FalVideoFile } | { ok: false; code: string; message: string; httpStatus: number | null };

export interface FalSubmitOptions {
  /** fal's `startTimeout` in seconds (x-fal-request-timeout). */
  startTimeoutSeconds?: number;
  webhookUrl?: string;
}

/**
 * The seam between the domain and fal (or the simulator). One implementation, over @fal-ai/client;
 * which origin it talks to is decided in app.ts.
 */
export interface FalGateway {
  submit(endpointId: string, input: unknown, options?: FalSubmitOptions): Promise<{ requestId: string; queuePosition: number | null }>;
  /**
   * Current status with cumulative logs (polling semantics, protocol §3). `logs: false` asks for none (`logs=0`):
   * every line so far is the whole body otherwise, which a caller that only wants the state should not pay for.
   */
  status(endpointId: string, requestId: string, options?: { logs?: boolean }): Promise<FalStatus>;
  /**
   * Follows the status stream, calling onStatuses with the events in order (each event carries only new log
   * lines, protocol §4.8). Events that arrive while a call is still running are handed over together in the
   * next call, so a busy consumer writes in batches. Resolves with the last event when the server closes the
   * stream, which need not be COMPLETED (a dropped stream); rejects on HTTP or parse errors; resolves with
   * null when aborted.
   */
  streamStatus(
    endpointId: string,
    requestId: string,
    onStatuses: (statuses: FalStatus[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<FalStatus | null>;
  result(endpointId: string, requestId: string): Promise<FalResult>;
  cancel(endpointId: string, requestId: string): Promise<'requested' | 'already-completed' | 'not-found'>;
  /**
   * Uploads a file to fal's storage (protocol §8: initiate, then a plain PUT to the signed upload_url) and
   * resolves with the URL fal serves it at, to be passed as a model input such as image_url.
   */
  upload(file: Blob, fileName: string): Promise<string>;
}

/** A failure fal reported (or a transport failure after the client's retries), already described safely. */
export class FalRequestError extends Error {
  readonly code: string;
  readonly httpStatus: number | null;
  constructor(code: string, message: string, httpStatus: number | null) {
    super(message);
    this.name = 'FalRequestError';
    this.code = code;
    this.httpStatus = httpStatus;
  }
}
