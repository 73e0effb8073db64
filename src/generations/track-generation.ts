import type { FalGateway, FalResult, FalStatus } from '../fal/types.ts';
import type { GenerationEvent } from './events.ts';
import { createLogDeduper, LogBatch, type LogDeduper, type LogSource } from './log-dedupe.ts';
import type { GenerationStore, NewLogLine } from './store.ts';
import { describeFailure, finish, retryDelayMs } from './finish-generation.ts';
import { sleep } from '../lib/sleep.ts';

export interface TrackerOptions {
  pollIntervalMs: number;
  maxStreamFailures: number;
  streamSafetyPollMs: number;
}

export interface TrackerDeps {
  store: GenerationStore;
  fal: FalGateway;
  publish: (events: GenerationEvent[]) => void;
  options: TrackerOptions;
  log: (message: string) => void;
  /** This instance's lease name: every write of the tracker is fenced with it (see store.transition). */
  leaseOwner?: string;
  /** A verified webhook's account of the outcome, if one arrived (used when the result endpoint fails). */
  webhookOutcome?: () => Promise<FalResult | undefined>;
  /**
   * When fal's result endpoint answers with an error and webhooks are on, how long to wait for the webhook
   * (which may still carry the output, e.g. after the result expired) before recording the failure.
   */
  webhookGraceMs?: number;
}

export interface TrackedGeneration {
  id: string;
  endpointId: string;
  falRequestId: string;
  /** The log lines stored so far, when the caller knows them (none for a generation just queued): not read again. */
  logsSoFar?: NewLogLine[];
}

/**
 * Follows one fal request to its end: the status stream (with logs) first; when it drops or errors, one
 * status poll to catch up, then a new stream; after `maxStreamFailures` consecutive failures, polling only.
 * Resolves when the generation is terminal or `signal` aborts (shutdown: nothing is marked failed then,
 * the next start picks the generation up again).
 */
export async function trackGeneration(deps: TrackerDeps, generation: TrackedGeneration, signal: AbortSignal): Promise<void> {
  const { store, fal, options } = deps;
  const { id, endpointId, falRequestId } = generation;
  const deduper = createLogDeduper(generation.logsSoFar ?? (await store.logs(id)));
  let streamFailures = 0;
  let attempt = 0;

  const apply = (status: FalStatus, newLines: LogSource) => applyAll([status], newLines);
  // Once this tracker's IN_PROGRESS write has been answered (applied, or refused: the row is past it, or our
  // lease is gone and the registry stops us), asking again can only be refused too, since status only moves
  // forward (status.ts). So the stream's every report, each IN_PROGRESS with its new lines, costs no
  // statement of its own, and its lines join the others of the batch in one write.
  let inProgressAnswered = false;

  /**
   * Records a batch of reports in order. Consecutive log lines are written together (one statement), but a
   * status change is never reordered with the lines around it. The lines of each write gather in one
   * LogBatch, marked stored only once that write succeeded.
   */
  const applyAll = async (statuses: FalStatus[], newLines: LogSource): Promise<void> => {
    const events: GenerationEvent[] = [];
    let batch = new LogBatch();
    const flush = async () => {
      if (batch.fresh.length === 0) return;
      const written = batch;
      batch = new LogBatch();
      events.push(...(await store.appendLogs(id, written.fresh, deps.leaseOwner ?? null)));
      written.commit();
    };
    const change = async (to: 'IN_QUEUE' | 'IN_PROGRESS', queuePosition?: number | null) => {
      if (inProgressAnswered) return;
      await flush();
      const event = await store.transition(id, to, { queuePosition, leaseOwner: deps.leaseOwner });
      if (to === 'IN_PROGRESS') inProgressAnswered = true;
      if (event) events.push(event);
    };
    try {
      for (const status of statuses) {
        // The change goes first (writing the lines before it), then this report's lines join the next write.
        if (status.status === 'IN_QUEUE') await change('IN_QUEUE', status.queuePosition);
        else if (status.status === 'IN_PROGRESS') await change('IN_PROGRESS');
        else if (!inProgressAnswered) {
          // A request that logged has run: record IN_PROGRESS before its lines even when the first report we
          // get is already COMPLETED (a fast request, or a catch-up poll that overtook the stream). Whether it
          // logged anything new is known only once its lines are counted, so they go into a batch of their own.
          const own = newLines(status.logs);
          if (own.fresh.length > 0) {
            await change('IN_PROGRESS');
            batch = own;
          }
          continue;
        }
        newLines(status.logs, batch);
      }
      await flush();
    } finally {
      if (events.length > 0) deps.publish(events);
    }
  };

  const poll = async (): Promise<FalStatus> => {
    const status = await fal.status(endpointId, falRequestId);
    await apply(status, deduper.source());
    return status;
  };

  while (!signal.aborted) {
    attempt += 1;
    try {
      if (streamFailures < options.maxStreamFailures) {
        const outcome = await followStream(deps, generation, deduper, apply, applyAll, signal);
        if (outcome === 'stopped') return;
        if (outcome === 'completed') return await finish(deps, generation, signal, poll);
        // The stream ended before COMPLETED (protocol §4.4: the client would fetch an unfinished result).
        streamFailures = outcome === 'dropped-after-progress' ? 1 : streamFailures + 1;
        deps.log(`generation ${id}: status stream closed early (${streamFailures} in a row), catching up by polling`);
      }
      const status = await poll();
      if (status.status === 'COMPLETED') return await finish(deps, generation, signal);
      const wait = streamFailures < options.maxStreamFailures ? retryDelayMs(streamFailures) : options.pollIntervalMs;
      await sleep(wait, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (isNotFound(error)) {
        const event = await store.transition(id, 'FAILED', {
          error: { code: 'FAL_REQUEST_NOT_FOUND', message: 'fal no longer knows this request' },
        });
        if (event) deps.publish([event]);
        return;
      }
      streamFailures += 1;
      deps.log(`generation ${id}: tracking attempt ${attempt} failed: ${describeFailure(error)}`);
      await sleep(retryDelayMs(streamFailures), signal);
    }
  }
}

/** The stream's safety poll backs off to at most this many times its first interval (see followStream). */
export const SAFETY_BACKOFF_LIMIT = 6;

type StreamOutcome = 'completed' | 'stopped' | 'dropped' | 'dropped-after-progress';

async function followStream(
  deps: TrackerDeps,
  generation: TrackedGeneration,
  deduper: LogDeduper,
  apply: (status: FalStatus, newLines: LogSource) => Promise<void>,
  applyAll: (statuses: FalStatus[], newLines: LogSource) => Promise<void>,
  signal: AbortSignal,
): Promise<StreamOutcome> {
  const connection = new AbortController();
  const stopConnection = () => connection.abort();
  signal.addEventListener('abort', stopConnection, { once: true });
  let progressed = false;
  let completedByPoll = false;
  // Protocol §4.5: a stream that never closes hangs the client forever, so a slow side poll watches for
  // completion and ends the connection itself. Every answer from fal that the request is not done backs the
  // watch off (doubling its wait, up to SAFETY_BACKOFF_LIMIT times the first interval, counted from that answer):
  // a queued or long generation's healthy stream would otherwise cost one status request per interval for as
  // long as it lives, which for many queued generations is more requests to fal than their submissions. The
  // catch-up poll below is such an answer too: it takes the watch's first turn, where a safety poll one interval
  // after it would have been a second status request per stream. A hung stream is still found, at most
  // SAFETY_BACKOFF_LIMIT intervals after the request finished.
  // A stream that reported within the wait is not hung (its last report came before the request finished, so a
  // hang is still found one wait after it): the watch then waits again from that report instead of asking fal.
  // Without this, many generations running side by side (all reporting) each cost a status request per wait.
  let safetyDelay = deps.options.streamSafetyPollMs;
  let safety: NodeJS.Timeout | undefined;
  let safetyStopped = false;
  let lastReportAt = -Infinity;
  const scheduleSafety = (delay = safetyDelay) => {
    if (safetyStopped) return;
    clearTimeout(safety);
    safety = setTimeout(() => {
      const quiet = performance.now() - lastReportAt;
      if (quiet < safetyDelay) return scheduleSafety(safetyDelay - quiet);
      // Without logs: only the state matters here, and with logs fal sends every line so far (the catch-up
      // after completion below reads them).
      deps.fal.status(generation.endpointId, generation.falRequestId, { logs: false }).then(
        (status) => {
          if (status.status === 'COMPLETED') {
            completedByPoll = true;
            connection.abort();
            return;
          }
          notDone();
        },
        () => {
          scheduleSafety();
        },
      );
    }, delay);
  };
  const notDone = () => {
    safetyDelay = Math.min(safetyDelay * 2, deps.options.streamSafetyPollMs * SAFETY_BACKOFF_LIMIT);
    scheduleSafety();
  };
  scheduleSafety();
  try {
    const newLines = deduper.source();
    let caughtUp = false;
    const last = await deps.fal.streamStatus(
      generation.endpointId,
      generation.falRequestId,
      async (statuses) => {
        progressed = true;
        lastReportAt = performance.now();
        if (!caughtUp) {
          // The stream carries only lines logged after it opened (protocol §4.7-4.8). Once it is open, one
          // poll (all lines so far) fills in what came before, in fal's order; stream events wait behind it,
          // and lines seen by both are recognised by the de-duplicator.
          caughtUp = true;
          const status = await deps.fal.status(generation.endpointId, generation.falRequestId);
          if (status.status !== 'COMPLETED') notDone();
          await apply(status, deduper.source());
        }
        await applyAll(statuses, newLines);
      },
      connection.signal,
    );
    if (signal.aborted) return 'stopped';
    if (last?.status === 'COMPLETED') return 'completed';
    if (completedByPoll) {
      // Collect every log line the hung stream did not deliver before fetching the result.
      await apply(await deps.fal.status(generation.endpointId, generation.falRequestId), deduper.source());
      return 'completed';
    }
    return progressed ? 'dropped-after-progress' : 'dropped';
  } finally {
    safetyStopped = true;
    clearTimeout(safety);
    signal.removeEventListener('abort', stopConnection);
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 404;
}
