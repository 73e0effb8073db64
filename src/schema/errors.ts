import {
  GenerationAlreadyFinishedError,
  GenerationNotFoundError,
  IdempotencyKeyConflictError,
  InputValidationError,
  type FieldProblem,
} from '../generations/errors.ts';
import { builder } from './builder.ts';

/** Every expected failure implements Error, so clients can always select `... on Error { message }`. */
export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  fields: (t) => ({
    message: t.exposeString('message'),
  }),
});

const FieldError = builder.objectRef<FieldProblem>('FieldError').implement({
  description: 'One problem with the input: where (path from the argument down) and what.',
  fields: (t) => ({
    path: t.exposeStringList('path'),
    message: t.exposeString('message'),
  }),
});

builder.objectType(InputValidationError, {
  name: 'InputValidationError',
  description: 'The input was rejected before anything was sent to fal; nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    fieldErrors: t.field({ type: [FieldError], resolve: (error) => error.fieldErrors }),
  }),
});

builder.objectType(IdempotencyKeyConflictError, {
  name: 'IdempotencyKeyConflictError',
  description: 'The idempotency key was used in the last 24 hours for a different request; nothing was submitted.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    idempotencyKey: t.exposeString('idempotencyKey'),
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
