import { falTimestamp, LOG_MESSAGES, type LiveRequest, type RequestUpdate } from './request.ts';
import type { FalLogEntry } from './types.ts';

export interface LifecycleHost {
  /** setTimeout that the simulator clears on stop(). */
  schedule(fn: () => void, ms: number): void;
  /** Requests allowed IN_PROGRESS at once (the account's concurrency limit, protocol §9). */
  maxConcurrent: number;
  /** Called on every status change, queue move or log line, after the request is updated. */
  onUpdate(request: LiveRequest, newLogs: FalLogEntry[]): void;
  onComplete(request: LiveRequest): void;
  /** A request stopped short: paused by `pauseBefore`, or waiting for a slot at the concurrency limit. */
  onHold(request: LiveRequest, why: string): void;
  /** Called with the request's new state before anyone is told of it (the journal, when the simulator keeps one). */
  persist(request: LiveRequest): void;
}

/**
 * Walks a request through IN_QUEUE (position falling to 0), IN_PROGRESS (log lines) and COMPLETED, on timers.
 * Every step checks the request is still where it expects it, so cancel, completeNow and resume can
 * interleave with the timers safely.
 *
 * The account concurrency limit (protocol §9) is modelled after the countdown: a request that reaches
 * position 0 while the limit is reached waits there (still IN_QUEUE, position 0, never rejected) until a
 * running request completes; normal-priority requests are let in before low-priority ones.
 */
export function createLifecycle(host: LifecycleHost) {
  const waitingForSlot: LiveRequest[] = [];
  const running = new Set<LiveRequest>();
  const canStart = () => running.size < host.maxConcurrent;

  function update(request: LiveRequest, at: number, newLogs: FalLogEntry[] = []): void {
    request.lastStepAt = at;
    host.persist(request);
    host.onUpdate(request, newLogs);
    request.updates.emit('update', { request, newLogs } satisfies RequestUpdate);
  }

  /**
   * Runs `step` `ms` after `at`, passing it its own time. Live, that is when its timer fires. A restored request
   * replays the steps it missed while the simulator was down each at the time it was due, back to back, so it
   * catches up at once to where fal would have it (log lines stamped as they would have been), then goes live.
   */
  function after(request: LiveRequest, at: number, ms: number, step: (at: number) => void): void {
    const due = at + ms;
    if (request.replaying && due > Date.now()) request.replaying = false;
    const replayed = request.replaying;
    host.schedule(() => step(replayed ? due : Date.now()), due - Date.now());
  }

  function hold(request: LiveRequest, why: string): void {
    request.replaying = false;
    host.persist(request);
    host.onHold(request, why);
  }

  function queueStep(request: LiveRequest, at: number): void {
    if (request.status !== 'IN_QUEUE') return;
    if (request.queuePosition > 0) {
      request.queuePosition -= 1;
      update(request, at);
      after(request, at, request.behaviour.queueStepMs, (t) => queueStep(request, t));
      return;
    }
    tryStart(request, at);
  }

  function tryStart(request: LiveRequest, at: number): void {
    if (request.status !== 'IN_QUEUE') return;
    if (request.startTimeoutAt !== null && at >= request.startTimeoutAt) {
      // Reached while replaying (live, the start timeout's own timer comes first).
      request.timedOut = true;
      return finish(request, true, at);
    }
    if (request.behaviour.pauseBefore === 'IN_PROGRESS' && request.pausedAt !== 'IN_PROGRESS') {
      request.pausedAt = 'IN_PROGRESS';
      hold(request, 'paused before IN_PROGRESS until resume()');
      return;
    }
    if (!canStart()) {
      request.replaying = false;
      if (!waitingForSlot.includes(request)) {
        waitingForSlot.push(request);
        host.onHold(request, `waits for a free slot (${running.size} running, ${request.priority} priority)`);
      }
      return;
    }
    remove(request);
    request.pausedAt = null;
    request.status = 'IN_PROGRESS';
    request.startedAt = at;
    running.add(request);
    update(request, at);
    after(request, at, request.behaviour.logIntervalMs, (t) => logStep(request, 0, t));
  }

  function logStep(request: LiveRequest, index: number, at: number): void {
    if (request.status !== 'IN_PROGRESS') return;
    if (index < request.behaviour.logCount) {
      const line: FalLogEntry = {
        message: `${LOG_MESSAGES[index % LOG_MESSAGES.length]} (${index + 1}/${request.behaviour.logCount})`,
        level: 'INFO',
        source: 'USER',
        timestamp: request.replaying ? falTimestamp(at) : falTimestamp(),
      };
      request.logs.push(line);
      update(request, at, [line]);
      after(request, at, request.behaviour.logIntervalMs, (t) => logStep(request, index + 1, t));
      return;
    }
    after(request, at, request.behaviour.completeDelayMs, (t) => finish(request, false, t));
  }

  function finish(request: LiveRequest, force: boolean, at: number): void {
    if (request.status === 'COMPLETED') return;
    if (!force && request.behaviour.pauseBefore === 'COMPLETED' && request.pausedAt !== 'COMPLETED') {
      request.pausedAt = 'COMPLETED';
      hold(request, 'paused before COMPLETED until resume()');
      return;
    }
    const wasRunning = running.delete(request);
    remove(request);
    request.pausedAt = null;
    request.status = 'COMPLETED';
    request.queuePosition = 0;
    request.completedAt = at;
    request.replaying = false;
    update(request, at);
    host.onComplete(request);
    if (wasRunning) startWaiting();
  }

  function startWaiting(): void {
    while (waitingForSlot.length > 0 && canStart()) {
      const next = waitingForSlot.find((r) => r.priority === 'normal') ?? waitingForSlot[0];
      remove(next);
      tryStart(next, Date.now());
    }
  }

  function startTimeout(request: LiveRequest): void {
    if (request.startTimeoutAt === null) return;
    // Start timeout (x-fal-request-timeout, protocol §9): counted from submission until processing starts;
    // on expiry the request completes and its result is a 504 with X-Fal-Request-Timeout-Type: user.
    host.schedule(() => {
      // A replaying request settles it in tryStart, by when it would have started.
      if (request.status !== 'IN_QUEUE' || request.replaying) return;
      request.timedOut = true;
      finish(request, true, Date.now());
    }, request.startTimeoutAt - Date.now());
  }

  function remove(request: LiveRequest): void {
    const at = waitingForSlot.indexOf(request);
    if (at >= 0) waitingForSlot.splice(at, 1);
  }

  return {
    /** Forgets the running and waiting requests of a previous start (before restoring from the journal). */
    clear(): void {
      running.clear();
      waitingForSlot.length = 0;
    },
    begin(request: LiveRequest): void {
      request.lastStepAt = Date.now();
      host.persist(request);
      startTimeout(request);
      after(request, request.lastStepAt, request.behaviour.queueStepMs, (t) => queueStep(request, t));
    },
    /**
     * Carries on with a request a previous run of the simulator kept (see the journal): its next step was due
     * from its last one, so the steps missed while nothing ran are replayed at once, then it goes on live.
     * Running requests are restored before queued ones, so they take their slots first.
     */
    restore(request: LiveRequest): void {
      if (request.status === 'COMPLETED') return;
      request.replaying = true;
      const { behaviour, lastStepAt } = request;
      if (request.status === 'IN_QUEUE') {
        startTimeout(request);
        if (request.pausedAt === 'IN_PROGRESS') return hold(request, 'paused before IN_PROGRESS until resume()');
        return after(request, lastStepAt, behaviour.queueStepMs, (t) => queueStep(request, t));
      }
      running.add(request);
      if (request.pausedAt === 'COMPLETED') return hold(request, 'paused before COMPLETED until resume()');
      // As live: the step after the last log line is one more interval, then completeDelayMs to COMPLETED.
      const done = request.logs.length;
      after(request, lastStepAt, behaviour.logIntervalMs, (t) => logStep(request, done, t));
    },
    resume(request: LiveRequest): void {
      if (request.pausedAt === 'IN_PROGRESS') {
        request.behaviour = { ...request.behaviour, pauseBefore: undefined };
        tryStart(request, Date.now());
      } else if (request.pausedAt === 'COMPLETED') {
        finish(request, true, Date.now());
      } else if (request.behaviour.pauseBefore) {
        // Not reached yet: let it pass when it gets there.
        request.behaviour = { ...request.behaviour, pauseBefore: undefined };
        host.persist(request);
      }
    },
    completeNow(request: LiveRequest): void {
      finish(request, true, Date.now());
    },
    /**
     * Cancel (protocol §6): a queued request leaves the queue at once; a running one only stops if the app
     * honours the signal. Either way a stopped request goes COMPLETED, because the JS poller only ends on
     * COMPLETED (§3), and its result says it was cancelled.
     */
    cancel(request: LiveRequest): boolean {
      if (request.status === 'IN_QUEUE' || (request.status === 'IN_PROGRESS' && request.behaviour.honourCancelWhileRunning)) {
        request.cancelled = true;
        finish(request, true, Date.now());
        return true;
      }
      return false;
    },
  };
}
