import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { PrismaClient } from '../db/index.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../logger.ts';
import { claimDueDeliveries, releaseClaim, type ClaimedDelivery } from './claim-deliveries.ts';
import { buildPayload, type PayloadVideo } from './payload.ts';
import { postWebhook, type PostResult } from './post-webhook.ts';
import { recordAttempt } from './record-attempt.ts';
import type { SecretBox } from './secret.ts';
import { checkWebhookUrl } from './url-policy.ts';

export interface WebhookDispatcherOptions {
  db: PrismaClient;
  box: SecretBox;
  settings: Config['outboundWebhooks'];
  instanceId: string;
  logger: Logger;
  /** The body's `data.id`: the generation's GraphQL global id. */
  generationGlobalId: (id: string) => string;
  /** The stable (signed) URL of a generation's video on this server. */
  videoUrl: (generationId: string) => string;
  /** reelgraph_webhook_deliveries_total{outcome} goes here when given. */
  registry?: Registry;
}

export interface WebhookDispatcher {
  start(): void;
  /** Stops polling, cuts attempts in flight and gives their claims back; resolves when nothing is left running. */
  stop(): Promise<void>;
}

const BATCH = 10;
// A claim outlives the longest attempt (the timeout) by this much, so it never lapses while we still send.
const CLAIM_MARGIN_MS = 30_000;

/**
 * The sending side of the outbox: every instance polls for due deliveries, claims a batch (claim-deliveries.ts),
 * sends each one and records the attempt. Nothing is kept in memory between polls: a delivery written by a
 * transition that committed just before a crash is found by whichever instance polls next.
 */
export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { db, settings, logger } = options;
  const outcomes = options.registry
    ? new Counter({
        name: 'reelgraph_webhook_deliveries_total',
        help: 'Outbound webhook attempts by the state they left the delivery in',
        labelNames: ['outcome'] as const,
        registers: [options.registry],
      })
    : null;
  for (const outcome of ['delivered', 'retrying', 'failed']) outcomes?.inc({ outcome }, 0);
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let started = false;

  function schedule(delayMs: number) {
    if (stopping.signal.aborted) return;
    timer = setTimeout(() => {
      timer = null;
      running = tick().finally(() => (running = null));
    }, delayMs);
  }

  async function tick(): Promise<void> {
    let full = false;
    try {
      const claimed = await claimDueDeliveries(db, { limit: BATCH, leaseMs: settings.timeoutMs + CLAIM_MARGIN_MS });
      full = claimed.length === BATCH;
      await Promise.all(claimed.map((delivery) => attempt(delivery)));
    } catch (error) {
      if (!stopping.signal.aborted) logger.warn(`webhook dispatcher: ${errorMessage(error)}`);
    }
    // A full batch means more may be due: go on at once instead of waiting a poll interval.
    schedule(full ? 0 : settings.pollMs);
  }

  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    // Whatever goes wrong on our side (an unreadable secret, a lost database read) is a failed attempt like any
    // other: left unrecorded, the delivery would be claimed again and again without ever reaching FAILED.
    const result = await send(delivery).catch((error: unknown): PostResult => ({
      delivered: false,
      statusCode: null,
      error: `not sent: ${errorMessage(error)}`,
      durationMs: 0,
      aborted: false,
    }));
    if (result.aborted) {
      await releaseClaim(db, delivery).catch(() => undefined);
      return;
    }
    const status = await recordAttempt(db, delivery, result, {
      retryScheduleSeconds: settings.retryScheduleSeconds,
      instanceId: options.instanceId,
    });
    if (!status) return;
    outcomes?.inc({ outcome: status.toLowerCase() });
    // The endpoint's origin only: a path or query may carry the receiver's own token.
    const fields = { deliveryId: delivery.id, generationId: delivery.generationId, endpoint: new URL(delivery.url).origin, status };
    if (status === 'DELIVERED') logger.info(`webhook ${delivery.eventType} delivered`, fields);
    else logger.warn(`webhook ${delivery.eventType} attempt ${delivery.attempts + 1} failed: ${result.error ?? 'no answer'}`, fields);
  }

  async function send(delivery: ClaimedDelivery): Promise<PostResult> {
    // Checked again at every attempt: what the name resolves to may have changed since registration.
    const check = await checkWebhookUrl(delivery.url, settings.allowPrivateUrls);
    if (!check.ok) return { delivered: false, statusCode: null, error: `refused: ${check.reason}`, durationMs: 0, aborted: false };
    let video: PayloadVideo | null = null;
    if (delivery.snapshot.status === 'COMPLETED') {
      const row = await db.videoOutput.findUnique({ where: { generationId: delivery.generationId } });
      if (row)
        video = { url: options.videoUrl(row.generationId), contentType: row.contentType, fileName: row.fileName, fileSize: row.fileSize };
    }
    const body = buildPayload({
      eventType: delivery.eventType,
      occurredAt: delivery.occurredAt,
      generationGlobalId: options.generationGlobalId(delivery.generationId),
      snapshot: delivery.snapshot,
      video,
    });
    return postWebhook({
      target: check.target,
      messageId: delivery.id,
      secret: options.box.open(delivery.secretCiphertext),
      body,
      timeoutMs: settings.timeoutMs,
      signal: stopping.signal,
    });
  }

  return {
    start() {
      if (started) return;
      started = true;
      schedule(0);
    },
    async stop() {
      stopping.abort();
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
