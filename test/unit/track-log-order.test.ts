import { describe, expect, it } from 'vitest';
import type { FalGateway, FalLogLine, FalStatus } from '../../src/fal/types.ts';
import type { GenerationStore, NewLogLine } from '../../src/generations/store.ts';
import { followGeneration } from '../helpers/tracker.ts';

const line = (n: number): FalLogLine => ({ message: `line ${n}`, level: 'INFO', timestamp: `2026-02-10T12:00:0${n}.000000` });

// What the tracker writes for a stream's reports, in order: a status change is never reordered with the lines
// around it, consecutive lines go in one write, and a line is written once even when the catch-up poll and the
// stream both carry it.
describe('the writes of a followed stream', () => {
  it('writes each run of new lines once, between the status changes, in order', async () => {
    const writes: string[] = [];
    const store = {
      transition(_id: string, to: string) {
        writes.push(to);
        return Promise.resolve(null);
      },
      appendLogs(_id: string, lines: NewLogLine[]) {
        writes.push(lines.map((l) => l.message).join(', '));
        return Promise.resolve([]);
      },
    } as unknown as GenerationStore;
    const stop = new AbortController();
    const fal = {
      // The catch-up poll the first stream event waits behind: line 1 was logged before the stream opened.
      status: () => Promise.resolve({ status: 'IN_QUEUE', queuePosition: 1, logs: [line(1)] } satisfies FalStatus),
      async streamStatus(_e: string, _r: string, onStatuses: (statuses: FalStatus[]) => Promise<void>) {
        await onStatuses([
          { status: 'IN_QUEUE', queuePosition: 1, logs: [line(1), line(2)] },
          { status: 'IN_QUEUE', queuePosition: 0, logs: [line(3)] },
          // Completed before any IN_PROGRESS report: IN_PROGRESS is recorded before its new line.
          { status: 'COMPLETED', logs: [line(4)], error: null },
          { status: 'COMPLETED', logs: [line(5)], error: null },
        ]);
        stop.abort();
        return null;
      },
    } as unknown as FalGateway;
    await followGeneration(fal, store, stop.signal);
    expect(writes).toEqual(['IN_QUEUE', 'line 1', 'IN_QUEUE', 'line 2', 'IN_QUEUE', 'line 3', 'IN_PROGRESS', 'line 4, line 5']);
  });
});
