import { Writable } from 'node:stream';
import pino from 'pino';
import pretty from 'pino-pretty';
import type { GenerationEvents } from './generations/event-map.ts';
import { isTerminal } from './generations/status.ts';
import { currentLogContext } from './log/context.ts';

/** Structured fields of one log line (`generationId`, `status`, `err`, ...). */
export type LogFields = Record<string, unknown>;

/**
 * The logger every module receives. `fields` is optional so that a hand-written logger with the three
 * one-argument methods is still one; the context fields (requestId, generationId, ...) come from
 * src/log/context.ts, not from callers.
 */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  debug?(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. Optional: use childLogger() to get one from any Logger. */
  child?(bindings: LogFields): Logger;
}

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  /** `json`: one JSON object per line (`level`, `time`, `msg`, context fields); `pretty`: for terminals. */
  format?: LogFormat;
  level?: LogLevel;
  /** Receives each line without its newline (tests); default: stdout. */
  sink?: (line: string) => void;
  /** Values (the fal key) scrubbed from every line, on top of API keys and Authorization values. */
  secrets?: Array<string | null | undefined>;
}

/**
 * Structured field names whose values are replaced whole, whatever they hold, before the line is serialised.
 * Free text is scrubbed by pattern too (see scrubber()). What pino's `redact` paths said: these keys at the top
 * of a line's fields, the NESTED_CENSORED ones in any object one level down (`headers.authorization`,
 * `*.falKey`), and `authorization` in the headers of a logged `req` or `request`.
 */
const CENSORED = new Set(['authorization', 'falKey', 'apiKey', 'secret', 'token', 'password']);
const NESTED_CENSORED = ['authorization', 'falKey', 'apiKey'] as const;
const CENSOR = '[redacted]';

/**
 * The fields with every credential field replaced, as a copy when anything was: the caller's object is never
 * changed. Hand-written instead of pino's `redact` (fast-redact): that walked its twelve paths, wildcards
 * included, on every line and was most of a line's cost (an access-log line: ~10 of ~16 us); this looks at each
 * top-level key once and copies nothing on a line without credentials, which is nearly every line.
 */
export function censorFields(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const value = fields[key];
    if (value === undefined) continue;
    if (CENSORED.has(key)) {
      out ??= { ...fields };
      out[key] = CENSOR;
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const censored = censorNested(key, value as Record<string, unknown>);
      if (censored !== value) {
        out ??= { ...fields };
        out[key] = censored;
      }
    }
  }
  return out ?? fields;
}

function censorNested(key: string, value: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const name of NESTED_CENSORED) {
    if (value[name] !== undefined) {
      out ??= { ...value };
      out[name] = CENSOR;
    }
  }
  if (key === 'req' || key === 'request') {
    const headers = value.headers as Record<string, unknown> | null | undefined;
    if (headers !== null && typeof headers === 'object' && headers.authorization !== undefined) {
      out ??= { ...value };
      out.headers = { ...headers, authorization: CENSOR };
    }
  }
  return out ?? value;
}

/**
 * A pino logger behind the Logger interface. Lines go to stdout (pino's default and the twelve-factor habit:
 * the platform collects the stream; `LOG_FORMAT`'s default follows whether stdout is a terminal), written
 * synchronously so that nothing is lost when the process exits right after logging.
 */
export function createLogger(options: LoggerOptions | ((line: string) => void) = {}): Logger {
  const opts: LoggerOptions = typeof options === 'function' ? { sink: options } : options;
  const scrubLine = scrubber(opts.secrets ?? []);
  const format = opts.format ?? 'json';
  let destination: pino.DestinationStream;
  if (format === 'pretty') {
    const sink = opts.sink;
    destination = pretty({
      colorize: sink ? false : Boolean(process.stdout.isTTY),
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      destination: sink
        ? new Writable({
            write(chunk: Buffer, _encoding, done) {
              sink(chunk.toString('utf8').replace(/\n$/, ''));
              done();
            },
          })
        : 1,
    });
  } else if (opts.sink) {
    const sink = opts.sink;
    destination = { write: (line: string) => sink(line.replace(/\n$/, '')) };
  } else {
    destination = pino.destination({ dest: 1, sync: true });
  }
  const root = pino(
    {
      level: opts.level ?? 'info',
      // Level names ("info") and ISO times read better in a terminal and in any log store than 30 and epoch ms.
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      // A copy: pino merges the call's fields into the object the mixin returns.
      mixin: () => ({ ...currentLogContext() }),
      // The last line of defence: the serialised line itself, so keys inside error messages, stacks or any
      // field are caught too.
      hooks: { streamWrite: scrubLine },
    },
    destination,
  );
  return wrap(root);
}

function wrap(p: pino.Logger): Logger {
  const at = (level: 'info' | 'warn' | 'error' | 'debug') => (message: string, fields?: LogFields) => {
    if (fields) p[level](censorFields(fields), message);
    else p[level](message);
  };
  return {
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    debug: at('debug'),
    child: (bindings) => wrap(p.child(censorFields(bindings))),
  };
}

/**
 * The lines the domain's facts deserve: each request fal accepted, and each generation's end. Listeners run in
 * the emitting verb's log context, so these lines carry its fields. Returns the unsubscribe.
 */
export function logGenerationEvents(events: GenerationEvents, logger: Logger): () => void {
  const offs = [
    events.on('submitted', (e) => logger.info(`generation ${e.generationId}: submitted to fal as ${e.falRequestId}`)),
    events.on('transition', (e) => {
      if (!isTerminal(e.status)) return;
      logger.info(`generation ${e.generationId}: ${e.status}`, { generationId: e.generationId, tenantId: e.tenantId, status: e.status });
    }),
  ];
  return () => offs.forEach((off) => off());
}

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** A logger that adds `bindings` to every line, for any Logger (one without child() merges them into fields). */
export function childLogger(logger: Logger, bindings: LogFields): Logger {
  if (logger.child) return logger.child(bindings);
  const merge = (fields?: LogFields) => ({ ...bindings, ...fields });
  return {
    info: (m, f) => logger.info(m, merge(f)),
    warn: (m, f) => logger.warn(m, merge(f)),
    error: (m, f) => logger.error(m, merge(f)),
    debug: (m, f) => logger.debug?.(m, merge(f)),
    child: (more) => childLogger(logger, { ...bindings, ...more }),
  };
}

/**
 * Wraps a logger so that secrets never reach its sink: the given values (the fal key), anything that looks
 * like one of our API keys, and the value of any Bearer/Authorization credential, in the message and in every
 * string among the fields.
 */
export function redactingLogger(inner: Logger, secrets: Array<string | null | undefined>): Logger {
  const redact = scrubber(secrets);
  const clean = (fields?: LogFields) => (fields ? (scrubValue(fields, redact, 0) as LogFields) : undefined);
  return {
    info: (m, f) => inner.info(redact(m), clean(f)),
    warn: (m, f) => inner.warn(redact(m), clean(f)),
    error: (m, f) => inner.error(redact(m), clean(f)),
    debug: (m, f) => inner.debug?.(redact(m), clean(f)),
    child: (bindings) => redactingLogger(childLogger(inner, clean(bindings) ?? {}), secrets),
  };
}

const MAY_HOLD_CREDENTIAL = /rg_|authorization|bearer|key/i;

/** Replaces the given secrets, API-key-shaped tokens and Authorization/Bearer/Key credentials in a text. */
export function scrubber(secrets: Array<string | null | undefined>): (text: string) => string {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  return (text) => {
    let out = text;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join('[redacted]');
    // Each pattern below needs one of these words: a text without any (nearly every line) is scanned once
    // instead of three times.
    if (!MAY_HOLD_CREDENTIAL.test(out)) return out;
    return out
      .replace(/\brg_[A-Za-z0-9_-]{20,}/g, 'rg_[redacted]')
      .replace(/(authorization["']?\s*[:=]\s*["']?)(bearer\s+|key\s+|basic\s+)?[^\s"',}]+/gi, '$1$2[redacted]')
      .replace(/\b(bearer|key)\s+[A-Za-z0-9._~+/:=-]{12,}/gi, '$1 [redacted]');
  };
}

function scrubValue(value: unknown, redact: (text: string) => string, depth: number): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error)
    return { type: value.name, message: redact(value.message), stack: value.stack ? redact(value.stack) : undefined };
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, redact, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  // A copy only when some value changed: most lines' fields (ids, paths, numbers) come out as they went in.
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(record)) {
    const before = record[key];
    const after = scrubValue(before, redact, depth + 1);
    if (after !== before) {
      out ??= { ...record };
      out[key] = after;
    }
  }
  return out ?? value;
}
