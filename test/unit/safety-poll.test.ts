import { describe, expect, it } from 'vitest';
import type { FalGateway, FalStatus } from '../../src/fal/types.ts';
import type { GenerationStore } from '../../src/generations/store.ts';
import { SAFETY_BACKOFF_LIMIT } from '../../src/generations/track-generation.ts';
import { followGeneration } from '../helpers/tracker.ts';

// A queued generation's stream can stay silent for a long time; its safety poll (protocol §4.5: a stream that
// never closes) must not cost one fal status request per interval for all that time.
/** Tracks one generation with this fal and store, the safety poll every `base` ms, until `signal` aborts. */
const follow = (fal: FalGateway, store: GenerationStore, base: number, signal: AbortSignal) =>
  followGeneration(fal, store, signal, { streamSafetyPollMs: base });

describe("the status stream's safety poll", () => {
  it('asks for the state without logs and doubles its interval while the request is not done, up to its limit', async () => {
    const base = 40;
    const polls: number[] = [];
    const asked: Array<{ logs?: boolean } | undefined> = [];
    const stop = new AbortController();
    const fal = {
      status(_e: string, _r: string, options?: { logs?: boolean }) {
        polls.push(performance.now());
        asked.push(options);
        // Five polls show the schedule up to the cap; then the tracker is stopped (shutdown), which ends it.
        if (polls.length === 5) stop.abort();
        return Promise.resolve({ status: 'IN_QUEUE', queuePosition: 3, logs: [] } satisfies FalStatus);
      },
      // A silent stream that never closes: it ends only when the tracker aborts it.
      streamStatus: (_e: string, _r: string, _on: unknown, signal: AbortSignal) =>
        new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true })),
    } as unknown as FalGateway;
    const started = performance.now();
    // Nothing is written: the stream reports nothing and the polls are the safety poll's own.
    await follow(fal, {} as GenerationStore, base, stop.signal);
    expect(polls).toHaveLength(5);
    // Only the state: fal would send every log line so far with each poll otherwise.
    expect(asked).toEqual(Array.from({ length: 5 }, () => ({ logs: false })));
    const gaps = polls.map((at, i) => at - (i === 0 ? started : polls[i - 1]));
    const expected = [1, 2, 4, SAFETY_BACKOFF_LIMIT, SAFETY_BACKOFF_LIMIT].map((n) => n * base);
    // Timers fire no earlier than asked (give or take a millisecond of rounding); a busy machine only delays them.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(expected[i] - 2));
  });

  it("counts the stream's catch-up poll as its first check: the next poll waits twice the interval after it", async () => {
    const base = 40;
    const polls: Array<{ at: number; logs?: boolean }> = [];
    const stop = new AbortController();
    const store = {
      transition: () => Promise.resolve(null),
      appendLogs: () => Promise.resolve([]),
    } as unknown as GenerationStore;
    const fal = {
      status(_e: string, _r: string, options?: { logs?: boolean }) {
        polls.push({ at: performance.now(), logs: options?.logs });
        // The catch-up poll and three safety polls; then the tracker is stopped (shutdown), which ends it.
        if (polls.length === 4) stop.abort();
        return Promise.resolve({ status: 'IN_QUEUE', queuePosition: 3, logs: [] } satisfies FalStatus);
      },
      // One report when the stream opens (which the catch-up poll follows), then silence until the tracker aborts.
      async streamStatus(_e: string, _r: string, onStatuses: (statuses: FalStatus[]) => Promise<void>, signal: AbortSignal) {
        await onStatuses([{ status: 'IN_QUEUE', queuePosition: 3, logs: [] }]);
        return new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true }));
      },
    } as unknown as FalGateway;
    await follow(fal, store, base, stop.signal);
    // The catch-up poll asks for every line so far (logs: undefined, the gateway's default), the safety polls for none.
    expect(polls.map((p) => p.logs)).toEqual([undefined, false, false, false]);
    const gaps = polls.slice(1).map((p, i) => p.at - polls[i].at);
    const expected = [2, 4, SAFETY_BACKOFF_LIMIT].map((n) => n * base);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(expected[i] - 2));
  });
  it('waits again from the last report while the stream reports: a stream that reports costs no status request', async () => {
    const base = 100;
    const polls: Array<{ at: number; logs?: boolean }> = [];
    const stop = new AbortController();
    let lastReport = 0;
    const store = {
      transition: () => Promise.resolve(null),
      appendLogs: () => Promise.resolve([]),
    } as unknown as GenerationStore;
    const fal = {
      status(_e: string, _r: string, options?: { logs?: boolean }) {
        polls.push({ at: performance.now(), logs: options?.logs });
        // The catch-up poll and one safety poll; then the tracker is stopped (shutdown), which ends it.
        if (polls.length === 2) stop.abort();
        return Promise.resolve({ status: 'IN_PROGRESS', logs: [] } satisfies FalStatus);
      },
      // A report every fifth of the interval for ten intervals (a running request logging), then silence until
      // the tracker aborts: a stream hung after its last report.
      async streamStatus(_e: string, _r: string, onStatuses: (statuses: FalStatus[]) => Promise<void>, signal: AbortSignal) {
        const end = performance.now() + 10 * base;
        while (performance.now() < end && !signal.aborted) {
          await onStatuses([{ status: 'IN_PROGRESS', logs: [] }]);
          lastReport = performance.now();
          await new Promise((resolve) => setTimeout(resolve, base / 5));
        }
        if (signal.aborted) return null;
        return new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true }));
      },
    } as unknown as FalGateway;
    await follow(fal, store, base, stop.signal);
    // The catch-up poll, then a single safety poll, which came only once the reports had stopped: twice the
    // interval (the catch-up poll's backing off) after the last one.
    expect(polls.map((p) => p.logs)).toEqual([undefined, false]);
    expect(polls[1].at - lastReport).toBeGreaterThanOrEqual(2 * base - 2);
  });
});
