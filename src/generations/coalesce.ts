/**
 * The queue both hot writers share (log-writer.ts, transition-writer.ts): every request that arrives while a write is
 * in flight (or in the same turn of the event loop) goes into the next write, one statement for many generations.
 *
 * One write at a time, and a generation at most once per write (an UPDATE changes a row once per statement): once
 * one of a generation's requests waits for a later write, its later requests wait too, so each generation's
 * requests are written in the order they were made. A write holds at most `max` by `weight` (a single heavier
 * request goes alone). `write` answers its requests itself, failures included: it never throws.
 */
export function createCoalescer<R extends { id: string }>(options: {
  max: number;
  weight: (request: R) => number;
  write: (batch: R[]) => Promise<void>;
}) {
  let queue: R[] = [];
  let writing = false;
  let scheduled = false;

  function take(): R[] {
    const batch: R[] = [];
    const ids = new Set<string>();
    const rest: R[] = [];
    let load = 0;
    for (const request of queue) {
      const id = request.id.toLowerCase();
      const weight = options.weight(request);
      if ((batch.length > 0 && load + weight > options.max) || ids.has(id)) rest.push(request);
      else {
        batch.push(request);
        load += weight;
      }
      ids.add(id);
    }
    queue = rest;
    return batch;
  }

  async function drain(): Promise<void> {
    scheduled = false;
    if (writing) return;
    writing = true;
    try {
      while (queue.length > 0) await options.write(take());
    } finally {
      writing = false;
    }
  }

  return {
    push(request: R) {
      queue.push(request);
      if (writing || scheduled) return;
      scheduled = true;
      // Wait for the rest of this turn's arrivals (other streams' chunks read in the same I/O phase).
      setImmediate(() => void drain());
    },
  };
}
