import { createHash } from 'node:crypto';
import type { Prisma, PrismaClient } from '../db/index.ts';
import { FalRequestError, type FalGateway, type FalResult } from '../fal/types.ts';
import { addLogContext, logScope } from '../log/context.ts';
import type { Logger } from '../logger.ts';
import type { MetricsSink } from '../metrics/types.ts';
import { topics, type EventBus } from '../pubsub/index.ts';
import { estimateCostMicros, microsToUsd, type PriceTable } from '../billing/prices.ts';
import {
  GenerationAlreadyFinishedError,
  GenerationNotFoundError,
  IdempotencyKeyConflictError,
  QuotaExceededError,
  StorageUnavailableError,
} from './errors.ts';
import { readTenantUsage } from './usage.ts';
import { toMessage, type GenerationEvent, type GenerationUpdatedMessage } from './events.ts';
import { isTerminal, type GenerationStatus } from './status.ts';
import { createGenerationStore } from './store.ts';
import { openGenerationEventStream, generationUpdateStream } from './subscriptions.ts';
import { readSubscriptionStart } from './subscription-reads.ts';
import type { TrackerOptions } from './track-generation.ts';
import { createLeases } from './leases.ts';
import { createOrphanResolver, orphanScanIntervalMs } from './recover.ts';
import { createTrackerRegistry, type LeaseTiming, type TrackTarget } from './tracker-registry.ts';
import { toFalInput, validateGenerateVideoRequest, type GenerateVideoRequest } from './validation.ts';
import { errorMessage } from '../lib/errors.ts';

export type FalBackendName = 'FAL' | 'SIMULATOR';

export interface GenerationServiceDeps {
  db: PrismaClient;
  fal: FalGateway;
  bus: EventBus;
  backend: FalBackendName;
  endpointId: string;
  tracking: TrackerOptions;
  logger: Logger;
  deadlines: { startTimeoutSeconds: number | null; overallSeconds: number; orphanAfterSeconds: number };
  /** Where fal should POST its webhook for a generation; null when no public URL is configured. */
  webhookUrl: (generationId: string) => string | null;
  /** Told about every generation that reached COMPLETED (archiving). */
  onCompleted?: (generationId: string) => void;
  /** This instance's identity in tracking leases, and how long a lease lives without renewal. */
  instanceId: string;
  lease: { ttlMs: number } & LeaseTiming;
  /** Idle subscribers re-check the database this often (events lost in transit are repaired). */
  subscriptionRepairMs?: number;
  /** Events one subscriber may have waiting before it is ended as too slow (default SUBSCRIBER_BUFFER). */
  subscriptionBufferEvents?: number;
  /** With webhooks on: how long a failed result waits for a webhook that may carry the output. */
  webhookGraceMs?: number;
  /** What a generation costs (the one price table), and each tenant's limits; null = no limit. */
  prices: PriceTable;
  quotas: TenantQuotas;
  metrics?: MetricsSink;
}

export interface TenantQuotas {
  maxConcurrent: number | null;
  dailyBudgetMicros: number | null;
  monthlyBudgetMicros: number | null;
}

/**
 * Who is asking: the tenant of the API key (or `default` when the server runs open on loopback). An admin
 * key sees every tenant's generations; what it creates still belongs to its own tenant.
 */
export interface Caller {
  tenantId: string;
  admin?: boolean;
}

/** The row filter for what a caller may see: its own tenant, or everything for an admin. */
export function visibleTo(caller: Caller): { tenantId?: string } {
  return caller.admin ? {} : { tenantId: caller.tenantId };
}

export const DEFAULT_TENANT = 'default';
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
// Storing fal's request id after a failed write: first retry soon, then back off to every few seconds.
const RECORD_RETRY_BASE_MS = 100;
const RECORD_RETRY_MAX_MS = 5_000;

/** A webhook delivery after its signature was verified (protocol §7.2). */
export interface VerifiedWebhook {
  requestId: string;
  status: 'OK' | 'ERROR';
  payload: unknown;
  error: string | null;
  /** Our generation id, carried in the webhook URL so a request whose id we never stored can be matched. */
  generationId: string | null;
}

/**
 * The domain: create, track, complete, fail, cancel, recover. Knows nothing of GraphQL or HTTP; every state
 * change of a generation goes through here (reads may go straight to the database).
 */
export function createGenerationService(deps: GenerationServiceDeps) {
  const { db, fal, bus, logger } = deps;
  const store = createGenerationStore(db, { metrics: deps.metrics });
  const slowSubscribers = { buffer: deps.subscriptionBufferEvents, log: (message: string) => logger.warn(message) };

  const publish = (tenantId: string) => (events: GenerationEvent[]) => {
    if (events.length === 0) return;
    for (const event of events) {
      bus.publish(topics.generationEvents(event.generationId), toMessage(event));
      // Every event published here was just written by this instance's guarded write: each counts once.
      if (event.kind === 'LOG') deps.metrics?.eventHandedOff(event.log.timestamp);
      if (event.kind === 'STATUS' && isTerminal(event.status)) deps.metrics?.generationFinished(event.status);
      if (event.kind === 'STATUS' && event.status === 'COMPLETED') deps.onCompleted?.(event.generationId);
      if (event.kind === 'STATUS' && isTerminal(event.status)) {
        logger.info(`generation ${event.generationId}: ${event.status}`, {
          generationId: event.generationId,
          tenantId,
          status: event.status,
        });
      }
    }
    bus.publish<GenerationUpdatedMessage>(topics.generationsUpdated, { id: events[0].generationId, tenantId });
  };

  const loadTarget = async (id: string): Promise<TrackTarget | null> => {
    const row = await db.generation.findUnique({ where: { id } });
    return row && row.falRequestId && !isTerminal(row.status) ? targetOf(row) : null;
  };

  const trackers = createTrackerRegistry({
    store,
    fal,
    leases: createLeases(db, deps.instanceId, deps.lease.ttlMs),
    timing: deps.lease,
    publish,
    options: deps.tracking,
    logger,
    deadlineSeconds: deps.deadlines.overallSeconds,
    loadTarget,
    webhookGraceMs: deps.webhookGraceMs ?? 0,
    metrics: deps.metrics,
    webhookOutcome: async (id) => {
      const row = await db.generation.findUnique({ where: { id }, select: { webhookOutcome: true } });
      return (row?.webhookOutcome ?? undefined) as FalResult | undefined;
    },
  });

  // A webhook that reached another instance: if we follow that generation, look at it now.
  const stopNudges = bus.subscribe<{ id: string }>(topics.trackingNudge, ({ id }) => {
    if (!trackers.isTracking(id)) return;
    void loadTarget(id).then((target) => target && trackers.restart(target));
  });

  async function findOwned(id: string, caller: Caller) {
    const row = await db.generation.findFirst({ where: { id, ...visibleTo(caller) } });
    if (!row) throw new GenerationNotFoundError(id);
    return row;
  }

  type Row = Awaited<ReturnType<typeof findOwned>>;
  function targetOf(row: Row): TrackTarget {
    return {
      id: row.id,
      tenantId: row.tenantId,
      endpointId: row.endpointId,
      falRequestId: row.falRequestId as string,
      deadlineAt: row.deadlineAt,
    };
  }

  /**
   * Inserts the PENDING row, or finds the generation an earlier request with the same key created, under a
   * per-tenant transaction lock: the quota check and the insert are one step, so concurrent submissions
   * (on any instance) cannot both take the last slot or the last dollar. A retried request (same key, same
   * input) is never refused by a quota: it was already counted.
   */
  async function insertOrReuse(
    data: Prisma.GenerationCreateInput,
    key: string | null,
    hash: string,
    caller: Caller,
  ): Promise<{ row: Row; reused: boolean }> {
    return db.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(72707370, hashtext(${caller.tenantId}))`;
        if (key !== null) {
          const existing = await tx.generation.findFirst({ where: { tenantId: caller.tenantId, idempotencyKey: key } });
          if (existing && existing.createdAt.getTime() < Date.now() - IDEMPOTENCY_WINDOW_MS) {
            // Older than the window: the key is free again.
            await tx.generation.update({ where: { id: existing.id }, data: { idempotencyKey: null } });
          } else if (existing) {
            if (existing.idempotencyHash !== hash) throw new IdempotencyKeyConflictError(key);
            return { row: existing, reused: true };
          }
        }
        await checkQuotas(tx, caller.tenantId, data.estimatedCostMicros ?? 0);
        return { row: await tx.generation.create({ data }), reused: false };
      },
      // Waiting behind other submissions of the same tenant is normal under load; give it time.
      { maxWait: 30_000, timeout: 30_000 },
    );
  }

  async function checkQuotas(tx: Prisma.TransactionClient, tenantId: string, costMicros: number) {
    const { maxConcurrent, dailyBudgetMicros, monthlyBudgetMicros } = deps.quotas;
    if (maxConcurrent === null && dailyBudgetMicros === null && monthlyBudgetMicros === null) return;
    const usage = await readTenantUsage(tx, tenantId);
    if (maxConcurrent !== null && usage.inFlight + 1 > maxConcurrent) {
      throw new QuotaExceededError('CONCURRENT_GENERATIONS', maxConcurrent, usage.inFlight, 1);
    }
    if (dailyBudgetMicros !== null && usage.dayCostMicros + costMicros > dailyBudgetMicros) {
      throw new QuotaExceededError(
        'DAILY_SPEND',
        microsToUsd(dailyBudgetMicros),
        microsToUsd(usage.dayCostMicros),
        microsToUsd(costMicros),
      );
    }
    if (monthlyBudgetMicros !== null && usage.monthCostMicros + costMicros > monthlyBudgetMicros) {
      throw new QuotaExceededError(
        'MONTHLY_SPEND',
        microsToUsd(monthlyBudgetMicros),
        microsToUsd(usage.monthCostMicros),
        microsToUsd(costMicros),
      );
    }
  }

  /**
   * fal request ids this instance holds but could not store yet (the database refused the write), by
   * generation. Kept until the write lands; the orphan scan leaves these rows alone meanwhile.
   */
  const unrecorded = new Map<string, string>();
  let stopping = false;
  const orphans = createOrphanResolver({
    db,
    store,
    publish,
    logger,
    orphanAfterSeconds: deps.deadlines.orphanAfterSeconds,
    recordPending: (id) => unrecorded.has(id),
  });

  /**
   * After fal accepted a submit: stores its request id, moves the row to IN_QUEUE and starts tracking. Every
   * step is guarded and idempotent, so a retry after a failed write simply runs the whole thing again.
   */
  async function settleSubmission(
    id: string,
    falRequestId: string,
    queuePosition: number | null,
    announce: (events: GenerationEvent[]) => void,
  ): Promise<Row> {
    await store.recordSubmission(id, falRequestId);
    const queued = await store.transition(id, 'IN_QUEUE', { queuePosition });
    if (queued) announce([queued]);
    const row = await db.generation.findUniqueOrThrow({ where: { id } });
    if (row.status === 'CANCELLED') {
      // Cancelled while we were submitting: pass the cancel on, so fal does not run (and bill) it.
      await fal.cancel(deps.endpointId, falRequestId).catch(() => undefined);
    } else if (row.status === 'FAILED' && row.errorCode === 'SUBMISSION_UNKNOWN') {
      // The submit took longer than ORPHAN_AFTER_S and an orphan scan already gave up on it: the row stays
      // failed (what clients were told), so fal must not run it either. Cancel, and say so loudly.
      const outcome = await fal.cancel(deps.endpointId, falRequestId).catch(() => 'failed' as const);
      logger.warn(
        `generation ${id}: fal accepted request ${falRequestId} after it was failed as an orphan (SUBMISSION_UNKNOWN); cancel at fal: ${outcome}`,
      );
    } else if (!isTerminal(row.status)) {
      await trackers.claim(targetOf(row));
    }
    return row;
  }

  /** Retries settleSubmission with backoff until it lands (or the service stops): the request id is never dropped. */
  async function recordInBackground(
    id: string,
    falRequestId: string,
    queuePosition: number | null,
    announce: (events: GenerationEvent[]) => void,
  ) {
    for (let attempt = 0; !stopping; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(RECORD_RETRY_MAX_MS, RECORD_RETRY_BASE_MS * 2 ** attempt)).unref());
      if (stopping) return;
      try {
        await settleSubmission(id, falRequestId, queuePosition, announce);
        unrecorded.delete(id);
        logger.info(`generation ${id}: fal request ${falRequestId} recorded after ${attempt + 1} retr${attempt === 0 ? 'y' : 'ies'}`);
        return;
      } catch (error) {
        if (attempt % 10 === 0) logger.warn(`generation ${id}: recording fal request ${falRequestId} still fails: ${describe(error)}`);
      }
    }
  }

  /** The insert failed for a reason other than the domain's own refusals: nothing was sent to fal yet. */
  function refuseUnrecorded(error: unknown): never {
    if (error instanceof IdempotencyKeyConflictError || error instanceof QuotaExceededError) throw error;
    // The client may simply retry: say so, instead of "Unexpected error.".
    logger.error(`generateVideo: could not record the request, nothing was submitted: ${describe(error)}`);
    throw new StorageUnavailableError();
  }

  return {
    store,

    /**
     * Validates, writes the row (PENDING, with the exact fal input) and only then submits to fal, storing
     * fal's request id the moment it is known. A crash at any point leaves a row that recovery resolves.
     */
    generateVideo: logScope(async (request: GenerateVideoRequest, caller: Caller) => {
      addLogContext({ tenantId: caller.tenantId });
      const valid = validateGenerateVideoRequest(request);
      const falInput = toFalInput(valid);
      const hash = createHash('sha256').update(JSON.stringify(falInput)).digest('hex');
      const now = new Date();
      const { row: created, reused } = await insertOrReuse(
        {
          tenantId: caller.tenantId,
          backend: deps.backend,
          endpointId: deps.endpointId,
          imageUrl: valid.imageUrl,
          endImageUrl: valid.endImageUrl,
          prompt: valid.prompt,
          multiPrompt: valid.multiPrompt ? (valid.multiPrompt as unknown as Prisma.InputJsonArray) : undefined,
          duration: valid.duration,
          generateAudio: valid.generateAudio,
          shotType: valid.shotType,
          falInput: falInput as Prisma.InputJsonObject,
          idempotencyKey: valid.idempotencyKey,
          idempotencyHash: valid.idempotencyKey ? hash : null,
          deadlineAt: new Date(now.getTime() + deps.deadlines.overallSeconds * 1000),
          estimatedCostMicros: estimateCostMicros(deps.prices, valid),
          lastSequence: 1,
          createdAt: now,
          updatedAt: now,
          events: { create: { sequence: 1, kind: 'STATUS', status: 'PENDING', createdAt: now } },
        },
        valid.idempotencyKey,
        hash,
        caller,
      ).catch(refuseUnrecorded);
      addLogContext({ generationId: created.id });
      if (reused) return created;
      deps.metrics?.generationCreated();
      const announce = publish(caller.tenantId);
      announce([{ kind: 'STATUS', generationId: created.id, sequence: 1, status: 'PENDING', queuePosition: null, at: now }]);

      let falRequestId: string;
      let queuePosition: number | null;
      try {
        ({ requestId: falRequestId, queuePosition } = await fal.submit(deps.endpointId, falInput, {
          webhookUrl: deps.webhookUrl(created.id) ?? undefined,
          startTimeoutSeconds: deps.deadlines.startTimeoutSeconds ?? undefined,
        }));
      } catch (error) {
        const { code, message } =
          error instanceof FalRequestError ? error : { code: 'FAL_SUBMIT_FAILED', message: 'submitting to fal failed' };
        logger.warn(`generation ${created.id}: submit failed: ${code}: ${message}`);
        try {
          const event = await store.transition(created.id, 'FAILED', { error: { code, message } });
          if (event) announce([event]);
          return await db.generation.findUniqueOrThrow({ where: { id: created.id } });
        } catch (writeError) {
          // The row stays PENDING without a request id: the orphan scan fails it with SUBMISSION_UNKNOWN.
          logger.error(`generation ${created.id}: could not record the failed submit: ${describe(writeError)}`);
          return created;
        }
      }
      addLogContext({ falRequestId });
      logger.info(`generation ${created.id}: submitted to fal as ${falRequestId}`);
      // fal has the request from here on: whatever storage does now, the answer is a success, never an error
      // that would make a client without an idempotency key pay a second time.
      try {
        return await settleSubmission(created.id, falRequestId, queuePosition, announce);
      } catch (error) {
        logger.error(
          `generation ${created.id}: fal accepted request ${falRequestId} but recording it failed (${describe(error)}); retrying in the background`,
        );
        unrecorded.set(created.id, falRequestId);
        void recordInBackground(created.id, falRequestId, queuePosition, announce);
        return { ...created, falRequestId };
      }
    }),

    /**
     * Cancels at fal. Queued (or not yet submitted) -> CANCELLED at once; running -> fal is asked and the
     * generation ends however fal reports it (`cancelRequested`); finished -> GenerationAlreadyFinishedError.
     */
    cancelGeneration: logScope(async (id: string, caller: Caller): Promise<{ generation: Row; cancelRequested: boolean }> => {
      const row = await findOwned(id, caller);
      addLogContext({ generationId: row.id, tenantId: row.tenantId, falRequestId: row.falRequestId ?? undefined });
      if (isTerminal(row.status)) throw new GenerationAlreadyFinishedError(row.id, row.status);
      const announce = publish(row.tenantId);
      if (row.falRequestId) {
        // Recorded before fal is asked: fal ends a cancelled request with an error result, which the tracker can
        // see before the CANCELLED write below lands, and must then record as CANCELLED, not FAILED (that race
        // answered a queued cancel with GenerationAlreadyFinishedError now and then).
        const askedAt = new Date();
        const marked = await db.generation.updateMany({
          where: { id: row.id, cancelRequestedAt: null },
          data: { cancelRequestedAt: askedAt },
        });
        const outcome = await fal.cancel(row.endpointId, row.falRequestId);
        if (outcome === 'already-completed') {
          // fal finished first, whichever way: take our mark back, so a failure of its own stays a failure.
          if (marked.count > 0)
            await db.generation.updateMany({ where: { id: row.id, cancelRequestedAt: askedAt }, data: { cancelRequestedAt: null } });
          // The tracker records how it ended (it may still be fetching the result).
          throw new GenerationAlreadyFinishedError(row.id, 'COMPLETED');
        }
      }
      if (row.status === 'PENDING' || row.status === 'IN_QUEUE') {
        const event = await store.transition(row.id, 'CANCELLED', { onlyFrom: ['PENDING', 'IN_QUEUE'] });
        if (event) {
          announce([event]);
          trackers.stopTracking(row.id);
          return { generation: await db.generation.findUniqueOrThrow({ where: { id: row.id } }), cancelRequested: false };
        }
      }
      // Running at fal: the cancel was sent; fal decides whether and how it stops.
      await db.generation.updateMany({ where: { id: row.id, cancelRequestedAt: null }, data: { cancelRequestedAt: new Date() } });
      const current = await db.generation.findUniqueOrThrow({ where: { id: row.id } });
      if (isTerminal(current.status) && current.status !== 'CANCELLED') throw new GenerationAlreadyFinishedError(row.id, current.status);
      return { generation: current, cancelRequested: current.status !== 'CANCELLED' };
    }),

    /**
     * A verified fal webhook. It feeds the same guarded state machine as the stream and polling: it records
     * a request id we never stored (an orphan), remembers the outcome, and has the tracker catch up now
     * (logs first, then the result), so completion is recorded once whichever report arrives first.
     */
    handleWebhook: logScope(async (hook: VerifiedWebhook): Promise<'applied' | 'already-finished' | 'unknown'> => {
      addLogContext({ falRequestId: hook.requestId });
      let row = hook.generationId ? await db.generation.findUnique({ where: { id: hook.generationId } }) : null;
      if (row && row.falRequestId && row.falRequestId !== hook.requestId) row = null;
      row ??= await db.generation.findUnique({ where: { falRequestId: hook.requestId } });
      if (!row) return 'unknown';
      addLogContext({ generationId: row.id, tenantId: row.tenantId });
      if (isTerminal(row.status)) return 'already-finished';
      if (!row.falRequestId) {
        if (!(await store.recordSubmission(row.id, hook.requestId))) return 'unknown';
        logger.info(`generation ${row.id}: matched fal request ${hook.requestId} by its webhook`);
        row = await db.generation.findUniqueOrThrow({ where: { id: row.id } });
      }
      await db.generation.update({ where: { id: row.id }, data: { webhookOutcome: outcomeOf(hook) as unknown as Prisma.InputJsonObject } });
      // Whoever holds the tracking lease catches up now: us (restart or claim), or another instance (nudge).
      if (!(await trackers.restart(targetOf(row)))) bus.publish(topics.trackingNudge, { id: row.id });
      return 'applied';
    }),

    /** Events of one generation (history, then live), after checking it exists for this caller. */
    async subscribeToEvents(id: string, afterSequence: number | null, caller: Caller) {
      // One read checks ownership and fetches the first history page (after the stream starts listening).
      const tenantId = caller.admin ? null : caller.tenantId;
      const stream = await openGenerationEventStream(
        bus,
        store,
        id,
        afterSequence ?? 0,
        (after, limit) => readSubscriptionStart(db, id, tenantId, after, limit),
        deps.subscriptionRepairMs,
        slowSubscribers,
      );
      if (!stream) throw new GenerationNotFoundError(id);
      return stream;
    },

    subscribeToUpdates(caller: Caller) {
      return generationUpdateStream(bus, (message) => caller.admin === true || message.tenantId === caller.tenantId, slowSubscribers);
    },

    /** The caller's own tenant's spend and limits (Query.usage). */
    async usage(caller: Caller) {
      return { ...(await readTenantUsage(db, caller.tenantId)), quotas: deps.quotas };
    },

    /**
     * At start-up, and from then on periodically (orphans.start): every generation fal knows about is tracked
     * again, and a PENDING row without a fal request id (a crash between the write and the submit) is never
     * resubmitted, which could pay twice. It waits for its webhook, and after `orphanAfterSeconds` is failed
     * with SUBMISSION_UNKNOWN by whichever instance's scan gets to it first (src/generations/recover.ts).
     */
    async recover(): Promise<{ resumed: number; orphansFailed: number }> {
      const orphansFailed = await orphans.resolve();
      orphans.start(orphanScanIntervalMs(deps.lease.scanMs, deps.deadlines.orphanAfterSeconds));
      // Everything fal knows about that no live instance follows (all of it, after a restart).
      const resumed = await trackers.startUpkeep();
      if (resumed > 0) logger.info(`resumed tracking ${resumed} in-flight generation(s)`);
      return { resumed, orphansFailed };
    },

    /** One orphan pass now (tests, operators); resolves with how many this instance failed. */
    resolveOrphans: () => orphans.resolve(),

    /** Stops every tracker without changing any row (leases are handed back): the next start resumes them. */
    async stop() {
      stopNudges();
      stopping = true;
      await orphans.stop();
      await trackers.stop();
      for (const [id, requestId] of unrecorded)
        logger.error(`generation ${id}: stopping before fal request ${requestId} could be recorded; its webhook can still match it`);
    },
  };
}

function outcomeOf(hook: VerifiedWebhook): FalResult {
  const video = (hook.payload as { video?: Record<string, unknown> } | null)?.video;
  if (hook.status === 'OK' && video && typeof video.url === 'string') {
    return {
      ok: true,
      video: {
        url: video.url,
        contentType: typeof video.content_type === 'string' ? video.content_type : null,
        fileName: typeof video.file_name === 'string' ? video.file_name : null,
        fileSize: typeof video.file_size === 'number' ? video.file_size : null,
      },
    };
  }
  return { ok: false, code: 'FAL_WEBHOOK_ERROR', message: hook.error ?? 'fal reported an error', httpStatus: null };
}

function describe(error: unknown): string {
  return errorMessage(error);
}

export type GenerationService = ReturnType<typeof createGenerationService>;
export { isTerminal, type GenerationStatus };
