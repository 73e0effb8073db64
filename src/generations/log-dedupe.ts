import type { FalLogLine } from '../fal/types.ts';
import type { NewLogLine } from './store.ts';

/**
 * fal sends log lines two ways: polling returns every line so far on each call, the status stream sends
 * only new lines per event (protocol §3 and §4.8), and what a re-opened stream replays is unverified.
 * So a line is identified by its content (level, timestamp, message) and counted: within one response or
 * one stream connection, the n-th occurrence of a line is new only if fewer than n are stored. That is
 * right for cumulative lists, for incremental events, and for a reconnect that replays some history.
 *
 * This runs once per upstream line (about 10k a second under load), and building a key string per line
 * plus a Map per source and per batch was most of the ingest path's garbage. So lines are indexed by their
 * timestamp in milliseconds (a number), with a chain for the lines sharing one millisecond, and each
 * distinct line is one Entry that also holds the count of the source that last saw it.
 *
 * Contract: sources are used one after another, never interleaved. A source's count in an entry is reset
 * when another source touches that entry, so a source used again after a later one would count from zero
 * (and take lines as new again). The tracker keeps to this: a stream connection's source is created before
 * its catch-up poll's but first used after that poll is applied in full, and the main loop's polls and
 * finish() come after the stream has ended (track-generation.ts).
 */
export function createLogDeduper(stored: NewLogLine[]) {
  const byMs = new Map<number, Entry>();
  let sources = 0;

  const entryOf = (ms: number, level: string, message: string): Entry => {
    // A millisecond count (13 digits) is a heap number in V8, which a Map boxes and hashes per lookup; folded
    // below 2^30 it is a small integer, hashed as is (twice as fast in our measurement). Instants 2^30 ms
    // (12.4 days) apart share a chain, told apart by entry.ms.
    const key = ms % 2 ** 30;
    const head = byMs.get(key);
    for (let entry = head; entry !== undefined; entry = entry.next) {
      if (entry.ms === ms && entry.message === message && entry.level === level) return entry;
    }
    const entry = new Entry(ms, level, message, head);
    byMs.set(key, entry);
    return entry;
  };
  for (const line of stored) entryOf(line.timestamp.getTime(), line.level, line.message).stored += 1;

  return {
    /**
     * Starts a new source: a stream connection or one poll response (see the contract above). Each call
     * adds the new lines of `lines` to a batch (a new one unless `into` is given) and returns it; call its
     * commit() once they are stored: a failed write must not mark them as seen.
     */
    source() {
      const id = ++sources;
      return (lines: FalLogLine[], into: LogBatch = new LogBatch()): LogBatch => {
        for (const raw of lines) {
          const ms = falTimestampMs(raw.timestamp);
          const entry = entryOf(ms, storableText(raw.level), storableText(raw.message));
          if (entry.src !== id) {
            entry.src = id;
            entry.n = 0;
          }
          const n = ++entry.n;
          if (n > entry.stored) into.add(new FreshLine(entry, ms, n));
        }
        return into;
      };
    },
  };
}

export type LogDeduper = ReturnType<typeof createLogDeduper>;
export type LogSource = ReturnType<LogDeduper['source']>;

/** One distinct line. `stored`: how many are stored; `n`: how many source `src` has seen so far. */
class Entry {
  ms: number;
  level: string;
  message: string;
  stored = 0;
  src = 0;
  n = 0;
  /** the next line in the same millisecond (or 2^30 ms apart) */
  next: Entry | undefined;
  constructor(ms: number, level: string, message: string, next: Entry | undefined) {
    this.ms = ms;
    this.level = level;
    this.message = message;
    this.next = next;
  }
}

/** A new line, with the entry and the occurrence of it that commit() records as stored once it is written. */
class FreshLine implements NewLogLine {
  message: string;
  level: string;
  timestamp: Date;
  entry: Entry;
  n: number;
  constructor(entry: Entry, ms: number, n: number) {
    this.message = entry.message;
    this.level = entry.level;
    this.timestamp = new Date(ms);
    this.entry = entry;
    this.n = n;
  }
}

/**
 * New lines waiting for one write. Each line carries what commit() needs, so a batch is one object and one
 * array: no Map and no closure per batch, as the old per-batch counts had.
 */
export class LogBatch {
  fresh: FreshLine[] = [];

  add(line: FreshLine): void {
    // A stream event usually brings one line: an array literal holds exactly that one, where a first push
    // would allocate room for 17.
    if (this.fresh.length === 0) this.fresh = [line];
    else this.fresh.push(line);
  }

  commit(): void {
    for (const line of this.fresh) if (line.n > line.entry.stored) line.entry.stored = line.n;
  }
}

/**
 * A line's text as the database can store it, and as it reads back: NUL (which PostgreSQL's text refuses, failing
 * the whole multi-generation write the line is coalesced into, and every retry of it) and unpaired surrogates
 * (which have no UTF-8 form; the driver wrote U+FFFD, so the stored line never matched fal's again and was taken
 * as new on the next poll) become U+FFFD here, before the line is counted, so a poll after a restart recognises
 * what is stored. Lines are almost always clean: two native scans, no copy.
 */
export function storableText(value: string): string {
  if (value.isWellFormed() && !value.includes('\u0000')) return value;
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/** fal timestamps carry no zone suffix and are UTC ("2026-02-10T12:00:01.123456"). */
export function parseFalTimestamp(value: string): Date {
  return new Date(falTimestampMs(value));
}

/** parseFalTimestamp as a number: no Date for the lines that turn out not to be new. */
function falTimestampMs(value: string): number {
  // Date.parse reads a string exactly as new Date(string) does (ECMA-262 §21.4.2.1).
  const ms = Date.parse(hasZone(value) ? value : `${value}Z`);
  // A malformed timestamp maps to a fixed instant, not to "now": the line must look the same on every poll.
  return Number.isNaN(ms) ? 0 : ms;
}

const isDigit = (code: number) => code >= 48 && code <= 57;

/** /(Z|[+-]\d{2}:?\d{2})$/ by hand: it runs once per upstream log line, and a regex showed in the ingest profile. */
function hasZone(value: string): boolean {
  const n = value.length;
  if (value.charCodeAt(n - 1) === 90 /* Z */) return true;
  if (!isDigit(value.charCodeAt(n - 1)) || !isDigit(value.charCodeAt(n - 2))) return false;
  const hours = value[n - 3] === ':' ? n - 4 : n - 3;
  const sign = value[hours - 2];
  return isDigit(value.charCodeAt(hours)) && isDigit(value.charCodeAt(hours - 1)) && (sign === '+' || sign === '-');
}
