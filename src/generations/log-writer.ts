import type { MetricsSink } from '../metrics/types.ts';
import type { GenerationEvent } from './events.ts';
import type { NewLogLine } from './store.ts';

/** One caller's lines for one generation, fenced by its lease owner (null: unfenced). */
export interface LogAppend {
  id: string;
  lines: NewLogLine[];
  leaseOwner: string | null;
}

interface Pending extends LogAppend {
  resolve: (events: GenerationEvent[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces log appends: every request that arrives while a write is in flight (or in the same turn of the
 * event loop) goes into the next write, one statement for many generations. Under load that turns one
 * statement per generation per line batch into one per round trip, whatever the number of streams.
 *
 * One write at a time, so a generation's requests are written in the order they were made; a generation
 * appears at most once per write (a second request for it waits for the next write). A write holds at most
 * `maxLines` lines (a single larger request goes alone, unsplit), so one statement stays bounded. When a
 * write fails, every caller in it is rejected: none of their lines were committed.
 */
export function createLogWriter(
  write: (batch: LogAppend[]) => Promise<GenerationEvent[][]>,
  options: { maxLines?: number; metrics?: Pick<MetricsSink, 'logLinesIngested'> } = {},
) {
  const maxLines = Math.max(1, options.maxLines ?? 2_000);
  let queue: Pending[] = [];
  let writing = false;
  let scheduled = false;

  function take(): Pending[] {
    const batch: Pending[] = [];
    const ids = new Set<string>();
    const rest: Pending[] = [];
    let lines = 0;
    for (const request of queue) {
      const id = request.id.toLowerCase();
      const full = batch.length > 0 && lines + request.lines.length > maxLines;
      // Once one of a generation's requests waits, its later ones wait too (order within a generation).
      if (full || ids.has(id)) {
        rest.push(request);
        ids.add(id);
        continue;
      }
      ids.add(id);
      batch.push(request);
      lines += request.lines.length;
    }
    queue = rest;
    return batch;
  }

  async function drain(): Promise<void> {
    scheduled = false;
    if (writing) return;
    writing = true;
    try {
      while (queue.length > 0) {
        const batch = take();
        try {
          const results = await write(batch.map(({ id, lines, leaseOwner }) => ({ id, lines, leaseOwner })));
          batch.forEach((request, i) => request.resolve(results[i] ?? []));
          options.metrics?.logLinesIngested(results.reduce((n, events) => n + events.length, 0));
        } catch (error) {
          for (const request of batch) request.reject(error);
        }
      }
    } finally {
      writing = false;
    }
  }

  return {
    append(request: LogAppend): Promise<GenerationEvent[]> {
      if (request.lines.length === 0) return Promise.resolve([]);
      return new Promise<GenerationEvent[]>((resolve, reject) => {
        queue.push({ ...request, resolve, reject });
        if (writing || scheduled) return;
        scheduled = true;
        // Wait for the rest of this turn's arrivals (other streams' chunks read in the same I/O phase).
        setImmediate(() => void drain());
      });
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
