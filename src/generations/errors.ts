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
