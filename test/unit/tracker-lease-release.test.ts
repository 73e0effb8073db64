import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { FalGateway, FalStatus } from '../../src/fal/types.ts';
import type { Leases } from '../../src/generations/leases.ts';
import type { GenerationStore } from '../../src/generations/store.ts';
import { createTrackerRegistry, type TrackerRegistry, type TrackTarget } from '../../src/generations/tracker-registry.ts';
import { silentLogger } from '../../src/logger.ts';
import { until } from '../helpers/until.ts';

// The leases of trackers that ended are given back together (one statement for generations finishing at once),
// never the lease of a generation tracked here again meanwhile.

const COMPLETED: FalStatus = { status: 'COMPLETED', logs: [], error: null };
const video = { url: 'https://cdn.example/v.mp4', contentType: 'video/mp4', fileName: 'v.mp4', fileSize: 1 };

let registry: TrackerRegistry | null = null;
afterEach(async () => {
  await registry?.stop();
  registry = null;
});

function start(fal: Partial<FalGateway>) {
  const released: string[][] = [];
  const changes = new EventEmitter();
  const leases: Leases = {
    instanceId: 'me',
    acquire: () => Promise.resolve({ lastSequence: 0 }),
    renew: (ids) => Promise.resolve(new Set(ids)),
    release(ids) {
      released.push([...ids]);
      changes.emit('released');
      return Promise.resolve();
    },
    unclaimed: () => Promise.resolve([]),
  };
  const store = {
    transition: () => Promise.resolve(null),
    appendLogs: () => Promise.resolve([]),
    logs: () => Promise.resolve([]),
    wasCancelRequested: () => Promise.resolve(false),
  } as unknown as GenerationStore;
  registry = createTrackerRegistry({
    store,
    fal: fal as FalGateway,
    leases,
    timing: { renewMs: 60_000, scanMs: 60_000 },
    publish: () => () => {},
    options: { pollIntervalMs: 60_000, maxStreamFailures: 3, streamSafetyPollMs: 60_000 },
    logger: silentLogger,
    deadlineSeconds: 3_600,
    loadTarget: () => Promise.resolve(null),
    webhookOutcome: () => Promise.resolve(undefined),
    webhookGraceMs: 0,
  });
  return { registry, released, changes };
}

const target = (i: number): TrackTarget => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  tenantId: 't',
  endpointId: 'e',
  falRequestId: `req-${i}`,
  deadlineAt: null,
});

describe('leases of ended trackers', () => {
  it('are given back together when many generations finish at once', async () => {
    // Every request is already done at fal: each tracker reads COMPLETED, fetches the result and ends.
    const { registry, released, changes } = start({
      async streamStatus(_e, _r, onStatuses) {
        await onStatuses([COMPLETED]);
        return COMPLETED;
      },
      status: () => Promise.resolve(COMPLETED),
      result: () => Promise.resolve({ ok: true as const, video }),
    });
    const targets = Array.from({ length: 20 }, (_, i) => target(i));
    expect(await Promise.all(targets.map((t) => registry.claim(t, { lastSequence: 0 })))).toEqual(targets.map(() => true));
    await until('every lease to be given back', () => released.flat().length === targets.length, { on: [[changes, 'released']] });
    expect(new Set(released.flat())).toEqual(new Set(targets.map((t) => t.id)));
    // One statement per tracker before; all of them ended in the same turn here.
    expect(released.length).toBeLessThanOrEqual(2);
    expect(targets.some((t) => registry.isTracking(t.id))).toBe(false);
  });

  it('keeps the lease of a generation tracked again before its old lease was given back', async () => {
    const opened = new EventEmitter();
    let streams = 0;
    const { registry, released, changes } = start({
      // A stream that stays open until the tracker stops it.
      streamStatus: (_e, _r, _on, signal) => {
        streams += 1;
        opened.emit('stream');
        return new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null), { once: true }));
      },
      status: () => Promise.resolve({ status: 'IN_PROGRESS', logs: [] } satisfies FalStatus),
    });
    const restarted = target(1);
    const other = target(2);
    await registry.claim(restarted, { lastSequence: 0 });
    await registry.claim(other, { lastSequence: 0 });
    await until('both streams to open', () => streams === 2, { on: [[opened, 'stream']] });
    // A webhook nudge: the old tracker stops (its lease is to be given back) and a new one claims it at once.
    expect(await registry.restart(restarted)).toBe(true);
    // Another tracker ends (a lost lease, say), so a release does run; it must not carry the restarted one.
    registry.stopTracking(other.id);
    await until('the stopped tracker to give its lease back', () => released.flat().includes(other.id), { on: [[changes, 'released']] });
    expect(released.flat()).not.toContain(restarted.id);
    expect(registry.isTracking(restarted.id)).toBe(true);
  });
});
