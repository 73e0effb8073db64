import { sleep } from '../lib/sleep.ts';
import { backoffDelay } from '../lib/backoff.ts';
import type { TrackerDeps, TrackedGeneration } from './track-generation.ts';

/**
 * fal said COMPLETED: fetch the result and record the outcome exactly once (the write is guarded).
 * `catchUp`, when the completion came from a stream, polls once for the cumulative log first, so a line
 * logged between a catch-up poll and the stream opening is not lost.
 */
export async function finish(
  deps: TrackerDeps,
  generation: TrackedGeneration,
  signal: AbortSignal,
  catchUp?: () => Promise<unknown>,
): Promise<void> {
  if (catchUp) {
    try {
      await catchUp();
    } catch (error) {
      deps.log(`generation ${generation.id}: final log poll failed: ${describeFailure(error)}`);
    }
  }
  for (let attempt = 1; !signal.aborted; attempt += 1) {
    try {
      let result = await deps.fal.result(generation.endpointId, generation.falRequestId);
      // fal keeps results for a limited time (protocol §5): if the result endpoint now answers with an error
      // but a verified webhook delivered the output, the output wins.
      let fromWebhook = result.ok ? undefined : await deps.webhookOutcome?.();
      if (!result.ok && !fromWebhook && deps.webhookGraceMs) {
        // A webhook that arrives meanwhile restarts tracking (which aborts this wait) with its outcome stored.
        await sleep(deps.webhookGraceMs, signal);
        if (signal.aborted) return;
        fromWebhook = await deps.webhookOutcome?.();
      }
      if (!result.ok && fromWebhook?.ok) result = fromWebhook;
      let event;
      if (result.ok) {
        event = await deps.store.transition(generation.id, 'COMPLETED', {
          video: { sourceUrl: result.video.url, ...withoutUrl(result.video) },
          leaseOwner: deps.leaseOwner,
        });
      } else if (await deps.store.wasCancelRequested(generation.id)) {
        // We asked fal to cancel a running request and it ended without output: that is a cancellation.
        event = await deps.store.transition(generation.id, 'CANCELLED', {
          error: { code: 'CANCELLED', message: `cancelled while running (fal: ${result.message})` },
          leaseOwner: deps.leaseOwner,
        });
      } else {
        event = await deps.store.transition(generation.id, 'FAILED', {
          error: { code: result.code, message: result.message },
          leaseOwner: deps.leaseOwner,
        });
      }
      if (event) deps.publish([event]);
      return;
    } catch (error) {
      // Transport failures after the client's own retries: the result is still at fal, keep asking.
      deps.log(`generation ${generation.id}: fetching the result failed (attempt ${attempt}): ${describeFailure(error)}`);
      await sleep(retryDelayMs(attempt), signal);
    }
  }
}

function withoutUrl<T extends { url: string }>(value: T): Omit<T, 'url'> {
  const { url: _url, ...rest } = value;
  return rest;
}

// Reconnect and retry delays: a quarter second at first, at most five seconds.
export const retryDelayMs = (failures: number) => backoffDelay(failures, { baseMs: 250, maxMs: 5_000 });

/** An error for a log line, with fal's HTTP status when it carried one. */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) {
    const status = (error as { status?: unknown }).status;
    return typeof status === 'number' ? `${error.message} (HTTP ${status})` : error.message;
  }
  return String(error);
}
