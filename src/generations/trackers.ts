import type { FalGateway, FalResult } from '../fal/types.ts';
import type { Logger } from '../logger.ts';
import type { GenerationEvent } from './events.ts';
import type { GenerationStore } from './store.ts';
import { trackGeneration, type TrackerOptions } from './tracker.ts';

export interface TrackTarget {
  id: string;
  tenantId: string;
  endpointId: string;
  falRequestId: string;
  deadlineAt: Date | null;
  resumed: boolean;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

/**
 * The trackers of this process: at most one per generation, each with its own abort signal (shutdown,
 * deadline, webhook nudge) and its overall deadline timer.
 */
export function createTrackerRegistry(deps: {
  store: GenerationStore;
  fal: FalGateway;
  publish: (tenantId: string) => (events: GenerationEvent[]) => void;
  options: TrackerOptions;
  logger: Logger;
  deadlineSeconds: number;
  /** What a verified fal webhook said about a request, used when fal's result endpoint no longer answers. */
  webhookOutcome: (generationId: string) => FalResult | undefined;
}) {
  const running = new Map<string, Running>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  function start(target: TrackTarget): void {
    if (stopped || running.has(target.id)) return;
    const controller = new AbortController();
    const publish = deps.publish(target.tenantId);
    const done = trackGeneration(
      { store: deps.store, fal: deps.fal, publish, options: deps.options, log: (m) => deps.logger.warn(m), webhookOutcome: () => deps.webhookOutcome(target.id) },
      target,
      controller.signal,
    )
      .catch((error: unknown) => deps.logger.error(`generation ${target.id}: tracker stopped: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        if (running.get(target.id)?.controller === controller) running.delete(target.id);
        clearTimeout(timer);
        timers.delete(timer);
      });
    const timer = setTimeout(() => void expire(target), Math.max(0, (target.deadlineAt?.getTime() ?? Date.now() + deps.deadlineSeconds * 1000) - Date.now()));
    timers.add(timer);
    running.set(target.id, { controller, done });
  }

  /** The overall deadline passed: cancel at fal (best effort) and fail, so the caller is never left waiting. */
  async function expire(target: TrackTarget): Promise<void> {
    if (stopped) return;
    try {
      await deps.fal.cancel(target.endpointId, target.falRequestId);
    } catch (error) {
      deps.logger.warn(`generation ${target.id}: cancel after deadline failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const event = await deps.store.transition(target.id, 'FAILED', {
      error: { code: 'DEADLINE_EXCEEDED', message: `the generation did not finish within ${deps.deadlineSeconds} seconds and was cancelled` },
    });
    if (event) deps.publish(target.tenantId)([event]);
    const current = running.get(target.id);
    current?.controller.abort();
  }

  return {
    start,
    /**
     * Restarts tracking now (a webhook said something happened): the old tracker is stopped and awaited
     * first, so two trackers never write the same generation's log at once.
     */
    async restart(target: TrackTarget): Promise<void> {
      const current = running.get(target.id);
      if (current) {
        current.controller.abort();
        await current.done;
      }
      start({ ...target, resumed: true });
    },
    stopTracking(id: string): void {
      running.get(id)?.controller.abort();
    },
    isTracking: (id: string) => running.has(id),
    size: () => running.size,
    /** Stops every tracker without changing any row: the next start resumes them. */
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const all = [...running.values()];
      for (const r of all) r.controller.abort();
      await Promise.allSettled(all.map((r) => r.done));
    },
  };
}

export type TrackerRegistry = ReturnType<typeof createTrackerRegistry>;
