import type { FalLogLine } from '../fal/types.ts';
import type { NewLogLine } from './store.ts';

/**
 * fal sends log lines two ways: polling returns every line so far on each call, the status stream sends
 * only new lines per event (protocol §3 and §4.8), and what a re-opened stream replays is unverified.
 * So a line is identified by its content (level, timestamp, message) and counted: within one response or
 * one stream connection, the n-th occurrence of a line is new only if fewer than n are stored. That is
 * right for cumulative lists, for incremental events, and for a reconnect that replays some history.
 */
export function createLogDeduper(stored: NewLogLine[]) {
  const storedCounts = new Map<string, number>();
  for (const line of stored) bump(storedCounts, key(line));

  return {
    /**
     * Starts a new source: a stream connection or one poll response. For each batch it returns the new
     * lines and a commit() to call once they are stored: a failed write must not mark them as seen.
     */
    source() {
      const seen = new Map<string, number>();
      return (lines: FalLogLine[]): { fresh: NewLogLine[]; commit(): void } => {
        const fresh: NewLogLine[] = [];
        const counts = new Map<string, number>();
        for (const raw of lines) {
          const line = toNewLine(raw);
          const k = key(line);
          const n = bump(seen, k);
          if (n > (storedCounts.get(k) ?? 0)) {
            counts.set(k, n);
            fresh.push(line);
          }
        }
        return {
          fresh,
          commit() {
            for (const [k, n] of counts) storedCounts.set(k, Math.max(n, storedCounts.get(k) ?? 0));
          },
        };
      };
    },
  };
}

export type LogDeduper = ReturnType<typeof createLogDeduper>;

function bump(map: Map<string, number>, k: string): number {
  const n = (map.get(k) ?? 0) + 1;
  map.set(k, n);
  return n;
}

const key = (line: NewLogLine) => `${line.level}\u0000${line.timestamp.getTime()}\u0000${line.message}`;

/** fal timestamps carry no zone suffix and are UTC ("2026-02-10T12:00:01.123456"). */
export function parseFalTimestamp(value: string): Date {
  const date = new Date(hasZone(value) ? value : `${value}Z`);
  // A malformed timestamp maps to a fixed instant, not to "now": the line must look the same on every poll.
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
}

function toNewLine(line: FalLogLine): NewLogLine {
  return { message: line.message, level: line.level, timestamp: parseFalTimestamp(line.timestamp) };
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
