import type { MetricsSink } from '../metrics/types.ts';
import type { GenerationEvent } from './events.ts';
import type { NewLogLine } from './store.ts';
import { createCoalescer } from './coalesce.ts';

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
  const queue = createCoalescer<Pending>({
    max: Math.max(1, options.maxLines ?? 2_000),
    weight: (request) => request.lines.length,
    async write(batch) {
      try {
        const results = await write(batch.map(({ id, lines, leaseOwner }) => ({ id, lines, leaseOwner })));
        batch.forEach((request, i) => request.resolve(results[i] ?? []));
        options.metrics?.logLinesIngested(results.reduce((n, events) => n + events.length, 0));
      } catch (error) {
        for (const request of batch) request.reject(error);
      }
    },
  });

  return {
    append(request: LogAppend): Promise<GenerationEvent[]> {
      if (request.lines.length === 0) return Promise.resolve([]);
      return new Promise<GenerationEvent[]>((resolve, reject) => queue.push({ ...request, resolve, reject }));
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
