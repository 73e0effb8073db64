/**
 * Expected failures of the domain, as classes the GraphQL layer maps to typed results (errors plugin).
 * Messages are written for the API's users: no stack traces, no internal URLs, no secrets.
 */
export interface FieldProblem {
  /** Where the problem is, from the operation's argument down, e.g. ["input", "multiPrompt", "0", "prompt"]. */
  path: string[];
  message: string;
}

export class InputValidationError extends Error {
  readonly fieldErrors: FieldProblem[];
  constructor(fieldErrors: FieldProblem[]) {
    super(`Invalid input: ${fieldErrors.map((e) => `${e.path.join('.')}: ${e.message}`).join('; ')}`);
    this.name = 'InputValidationError';
    this.fieldErrors = fieldErrors;
  }
}

export class GenerationNotFoundError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`No video generation with id "${id}"`);
    this.name = 'GenerationNotFoundError';
    this.id = id;
  }
}

export class IdempotencyKeyConflictError extends Error {
  readonly idempotencyKey: string;
  constructor(idempotencyKey: string) {
    super('This idempotency key was already used for a different request in the last 24 hours');
    this.name = 'IdempotencyKeyConflictError';
    this.idempotencyKey = idempotencyKey;
  }
}

export class GenerationAlreadyFinishedError extends Error {
  readonly id: string;
  readonly status: string;
  constructor(id: string, status: string) {
    super(`The video generation has already finished (${status})`);
    this.name = 'GenerationAlreadyFinishedError';
    this.id = id;
    this.status = status;
  }
}

export type QuotaKind = 'CONCURRENT_GENERATIONS' | 'DAILY_SPEND' | 'MONTHLY_SPEND';

/**
 * A tenant limit would be exceeded; nothing was stored or sent to fal. `limit` and `current` are counts for
 * CONCURRENT_GENERATIONS and US dollars for the spend budgets; `requested` is what this request would add.
 */
export class QuotaExceededError extends Error {
  readonly quota: QuotaKind;
  readonly limit: number;
  readonly current: number;
  readonly requested: number;
  constructor(quota: QuotaKind, limit: number, current: number, requested: number) {
    super(
      quota === 'CONCURRENT_GENERATIONS'
        ? `Too many generations in flight: ${current} of at most ${limit}; wait for one to finish`
        : `${quota === 'DAILY_SPEND' ? 'Daily' : 'Monthly'} spend budget exceeded: $${current.toFixed(3)} spent of $${limit.toFixed(3)}, this request would add $${requested.toFixed(3)}`,
    );
    this.name = 'QuotaExceededError';
    this.quota = quota;
    this.limit = limit;
    this.current = current;
    this.requested = requested;
  }
}

/** Too many mutations from one API key in a short time (token bucket); nothing was done. */
export class RateLimitedError extends Error {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(`Too many requests; retry after ${retryAfterSeconds} second(s)`);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The request could not be recorded (the database refused the write: a full disk, a read-only or unreachable
 * database). It is raised only before anything was sent to fal, so retrying cannot pay twice.
 */
export class StorageUnavailableError extends Error {
  constructor() {
    super('The server could not record the request, so nothing was submitted to fal; it is safe to retry.');
    this.name = 'StorageUnavailableError';
  }
}
