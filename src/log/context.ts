import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The fields every log line carries while some work runs: the HTTP request that caused it, the generation it is
 * about. Kept in an AsyncLocalStorage so that the entry points (the request handler, each tracker, each
 * generation verb) set them once and every line logged below them, however deep and however much later (timers,
 * awaited I/O), carries them without threading a logger through every call.
 */
export interface LogContext {
  requestId?: string;
  generationId?: string;
  falRequestId?: string;
  tenantId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();
const EMPTY: Readonly<LogContext> = Object.freeze({});

/** Runs fn with the current fields plus these (a new scope: what fn adds later stays inside it). */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...definedOnly(fields) }, fn);
}

/** Wraps an async function so every call runs in its own scope, which addLogContext then fills in. */
export function logScope<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => withLogContext({}, () => fn(...args));
}

/**
 * Adds fields to the current scope (e.g. the generation id once the row exists). Outside any scope it does
 * nothing: it must never attach fields to unrelated work.
 */
export function addLogContext(fields: LogContext): void {
  const store = storage.getStore();
  if (store) Object.assign(store, definedOnly(fields));
}

export function currentLogContext(): Readonly<LogContext> {
  return storage.getStore() ?? EMPTY;
}

function definedOnly(fields: LogContext): LogContext {
  const out: LogContext = {};
  for (const [key, value] of Object.entries(fields) as Array<[keyof LogContext, string | null | undefined]>) {
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}
