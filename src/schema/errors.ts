import {
  GenerationAlreadyFinishedError,
  GenerationNotFoundError,
  IdempotencyKeyConflictError,
  InputValidationError,
  QuotaExceededError,
  RateLimitedError,
  StorageUnavailableError,
  type FieldProblem,
} from '../generations/errors.ts';
import { builder } from './builder.ts';

/** Every expected failure implements Error, so clients can always select `... on Error { message }`. */
export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description: 'An expected failure, returned as data in a result union: select `... on Error { message }` to show any of them.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What went wrong, for a person to read.' }),
  }),
});

const FieldError = builder.objectRef<FieldProblem>('FieldError').implement({
  description: 'One problem with the input: where (path from the argument down) and what.',
  fields: (t) => ({
    path: t.exposeStringList('path', {
      description: 'Path from the argument to the offending value, e.g. ["input", "multiPrompt", "0", "prompt"].',
    }),
    message: t.exposeString('message', { description: 'What is wrong with that value.' }),
  }),
});

builder.objectType(InputValidationError, {
  name: 'InputValidationError',
  description: 'The input was rejected before anything was sent to fal; nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    fieldErrors: t.field({
      type: [FieldError],
      description: 'Every problem found, not just the first.',
      resolve: (error) => error.fieldErrors,
    }),
  }),
});

builder.objectType(IdempotencyKeyConflictError, {
  name: 'IdempotencyKeyConflictError',
  description: 'The idempotency key was used in the last 24 hours for a different request; nothing was submitted.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    idempotencyKey: t.exposeString('idempotencyKey', { description: 'The key that was sent.' }),
  }),
});

builder.objectType(GenerationAlreadyFinishedError, {
  name: 'GenerationAlreadyFinishedError',
  description: 'The generation had already reached a final state; nothing changed.',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

builder.objectType(GenerationNotFoundError, {
  name: 'GenerationNotFoundError',
  description: 'No generation with this id is visible to the caller; nothing changed.',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

const QuotaKindEnum = builder.enumType('QuotaKind', {
  description: 'Which per-tenant limit was reached.',
  values: {
    CONCURRENT_GENERATIONS: { description: 'Generations in flight at once (limit and current are counts).' },
    DAILY_SPEND: { description: 'Estimated spend since 00:00 UTC today, in US dollars.' },
    MONTHLY_SPEND: { description: 'Estimated spend since the 1st of this month (UTC), in US dollars.' },
  } as const,
});

builder.objectType(QuotaExceededError, {
  name: 'QuotaExceededError',
  description: "The request would exceed one of the tenant's limits; nothing was stored or sent to fal.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    quota: t.field({ type: QuotaKindEnum, description: 'Which limit.', resolve: (error) => error.quota }),
    limit: t.exposeFloat('limit', { description: 'The limit (a count, or US dollars for spend).' }),
    current: t.exposeFloat('current', {
      description: 'Current usage against that limit, before this request (a count, or US dollars for spend).',
    }),
    requested: t.exposeFloat('requested', { description: 'What this request would have added (a count, or US dollars for spend).' }),
  }),
});

builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  description:
    'Too many mutations with this API key in a short time; nothing was done. Also signalled by the RateLimit-* and Retry-After headers.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt('retryAfterSeconds', { description: 'Seconds to wait before the next mutation can succeed.' }),
  }),
});

builder.objectType(StorageUnavailableError, {
  name: 'StorageUnavailableError',
  description:
    'The server could not record the request (its storage refused the write), so nothing was submitted to fal; it is safe to retry.',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});
