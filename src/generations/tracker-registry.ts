import type { FalGateway, FalResult } from '../fal/types.ts';
import { withLogContext } from '../log/context.ts';
import type { Logger } from '../logger.ts';
import type { MetricsSink } from '../metrics/types.ts';
import type { GenerationEvent } from './events.ts';
import type { Leases } from './leases.ts';
import type { GenerationStore, NewLogLine } from './store.ts';
import { trackGeneration, type TrackerOptions } from './track-generation.ts';
import { errorMessage } from '../lib/errors.ts';

export interface TrackTarget {
  id: string;
  tenantId: string;
  endpointId: string;
  falRequestId: string;
  deadlineAt: Date | null;
}

export interface LeaseTiming {
  /** How often held leases are renewed (well under their time to live). */
  renewMs: number;
  /** How often unclaimed in-flight generations (their instance died) are looked for. */
  scanMs: number;
}

interface Running {
  target: TrackTarget;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The trackers of this process: at most one per generation here, and (through leases) one per generation
 * in the whole cluster. Each has its own abort signal (shutdown, lost lease, deadline, webhook nudge) and
 * its overall deadline timer.
 */
export function createTrackerRegistry(deps: {
  store: GenerationStore;
  fal: FalGateway;
  leases: Leases;
  timing: LeaseTiming;
  publish: (tenantId: string) => (events: GenerationEvent[]) => void;
  options: TrackerOptions;
  logger: Logger;
  deadlineSeconds: number;
  /** Loads what tracking needs for a generation that is in flight, or null. */
  loadTarget: (id: string) => Promise<TrackTarget | null>;
  /** What a verified fal webhook said, used when fal's result endpoint no longer answers. */
  webhookOutcome: (generationId: string) => Promise<FalResult | undefined>;
  webhookGraceMs: number;
  metrics?: MetricsSink;
}) {
  const running = new Map<string, Running>();
  deps.metrics?.trackedBy(() => running.size);
  const claiming = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  // The leases of trackers that ended, given back together: generations finishing at once (all those fal released
  // together) would otherwise cost one statement each, at the moment their completions are being written and
  // delivered. Given back one write at a time, in the turn after they ended (or after the write in flight).
  let toRelease = new Set<string>();
  let releasing = false;
  let releaseScheduled = false;
  function releaseLater(id: string): void {
    toRelease.add(id);
    if (releasing || releaseScheduled) return;
    releaseScheduled = true;
    setImmediate(() => void releaseEnded());
  }
  async function releaseEnded(): Promise<void> {
    releaseScheduled = false;
    if (releasing) return;
    releasing = true;
    try {
      while (toRelease.size > 0 && !stopped) {
        const ids = [...toRelease];
        toRelease = new Set();
        await deps.leases.release(ids).catch(() => undefined);
      }
    } finally {
      releasing = false;
    }
  }

  // Every line a tracker logs (and its deadline's) names the generation, its fal request and its tenant.
  function run(target: TrackTarget, logsSoFar: NewLogLine[] | undefined): void {
    withLogContext({ generationId: target.id, falRequestId: target.falRequestId, tenantId: target.tenantId }, () =>
      track(target, logsSoFar),
    );
  }

  function track(target: TrackTarget, logsSoFar: NewLogLine[] | undefined): void {
    const controller = new AbortController();
    const done = trackGeneration(
      {
        store: deps.store,
        fal: deps.fal,
        publish: deps.publish(target.tenantId),
        options: deps.options,
        log: (m) => deps.logger.warn(m),
        leaseOwner: deps.leases.instanceId,
        webhookGraceMs: deps.webhookGraceMs,
        webhookOutcome: () => deps.webhookOutcome(target.id),
      },
      logsSoFar ? { ...target, logsSoFar } : target,
      controller.signal,
    )
      .catch((error: unknown) => deps.logger.error(`generation ${target.id}: tracker stopped: ${errorMessage(error)}`))
      .finally(() => {
        clearTimeout(deadline);
        timers.delete(deadline);
        if (running.get(target.id)?.controller === controller) {
          running.delete(target.id);
          if (!stopped) releaseLater(target.id);
        }
      });
    const due = (target.deadlineAt?.getTime() ?? Date.now() + deps.deadlineSeconds * 1000) - Date.now();
    const deadline = setTimeout(() => void expire(target), Math.min(Math.max(0, due), 2 ** 31 - 1));
    timers.add(deadline);
    running.set(target.id, { target, controller, done });
  }

  /**
   * Tracks a generation here if this instance can take (or already holds) its lease. `written` is the last
   * event sequence the caller wrote itself (the submitter: PENDING and IN_QUEUE, no log line): when the row
   * has no later event as the lease is taken, nobody else wrote any, and the tracker need not read the log.
   */
  async function claim(target: TrackTarget, written?: { lastSequence: number }): Promise<boolean> {
    if (stopped || running.has(target.id) || claiming.has(target.id)) return running.has(target.id);
    // Tracked here again (a webhook's restart): the lease its last tracker left must not be given back after this.
    toRelease.delete(target.id);
    claiming.add(target.id);
    try {
      const lease = await deps.leases.acquire(target.id);
      if (!lease || stopped) return false;
      run(target, written && lease.lastSequence === written.lastSequence ? [] : undefined);
      return true;
    } finally {
      claiming.delete(target.id);
    }
  }

  /** The overall deadline passed: cancel at fal (best effort) and fail, so the caller is never left waiting. */
  async function expire(target: TrackTarget): Promise<void> {
    if (stopped) return;
    try {
      await deps.fal.cancel(target.endpointId, target.falRequestId);
    } catch (error) {
      deps.logger.warn(`generation ${target.id}: cancel after deadline failed: ${errorMessage(error)}`);
    }
    const event = await deps.store.transition(target.id, 'FAILED', {
      error: {
        code: 'DEADLINE_EXCEEDED',
        message: `the generation did not finish within ${deps.deadlineSeconds} seconds and was cancelled`,
      },
    });
    if (event) deps.publish(target.tenantId)([event]);
    running.get(target.id)?.controller.abort();
  }

  /** Renews our leases, stopping any tracker whose lease was lost. */
  async function renew(): Promise<void> {
    try {
      // Judge only the trackers we asked about: one claimed while the renewal was in flight is not in it.
      const asked = [...running.entries()];
      const held = await deps.leases.renew(asked.map(([id]) => id));
      for (const [id, r] of asked) {
        if (!held.has(id) && running.get(id) === r) {
          deps.logger.warn(`generation ${id}: tracking lease lost, another instance follows it now`, {
            generationId: id,
            tenantId: r.target.tenantId,
            falRequestId: r.target.falRequestId,
          });
          r.controller.abort();
        }
      }
    } catch (error) {
      deps.logger.warn(`lease renewal failed: ${errorMessage(error)}`);
    }
  }

  async function scan(): Promise<number> {
    let claimed = 0;
    for (const id of await deps.leases.unclaimed(100)) {
      if (stopped) break;
      if (running.has(id)) continue;
      const target = await deps.loadTarget(id);
      if (target && (await claim(target))) claimed += 1;
    }
    return claimed;
  }

  /**
   * Runs fn every ms, never two at once. Renewal and scanning run on separate timers: a long scan (many
   * orphans after an instance died) must never hold up the renewals that keep our own leases alive.
   */
  const every = (ms: number, fn: () => Promise<unknown>) => {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || stopped) return;
      busy = true;
      void fn()
        .catch((error: unknown) => deps.logger.warn(`lease upkeep failed: ${errorMessage(error)}`))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    timers.add(timer);
  };

  return {
    claim,
    /** Claims every unclaimed in-flight generation now, and keeps doing so (and renewing) in the background. */
    async startUpkeep(): Promise<number> {
      const claimed = await scan();
      every(deps.timing.renewMs, renew);
      every(deps.timing.scanMs, scan);
      return claimed;
    },
    /**
     * Restarts tracking here now (a webhook said something happened): the old tracker is stopped and awaited
     * first, so two trackers never write one generation's log at once. False when another instance holds it.
     */
    async restart(target: TrackTarget): Promise<boolean> {
      const current = running.get(target.id);
      if (current) {
        current.controller.abort();
        await current.done;
      }
      return claim(target);
    },
    stopTracking(id: string): void {
      running.get(id)?.controller.abort();
    },
    isTracking: (id: string) => running.has(id),
    /** Stops every tracker without changing any generation, and hands their leases back. */
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const all = [...running.values()];
      for (const r of all) r.controller.abort();
      await Promise.allSettled(all.map((r) => r.done));
      await deps.leases.release([...all.map((r) => r.target.id), ...toRelease]).catch(() => undefined);
      toRelease.clear();
      running.clear();
    },
  };
}

export type TrackerRegistry = ReturnType<typeof createTrackerRegistry>;
