import type { FalResult } from '../fal/types.ts';
import { topics } from '../pubsub/index.ts';
import { authorizeVideo } from './authorize-video.ts';
import { createCancel } from './cancel.ts';
import type { Caller } from './caller.ts';
import { createPublish, targetOf, type DomainContext, type GenerationServiceDeps } from './context.ts';
import { createGenerationEmitter, type GenerationEvents } from './event-map.ts';
import { GenerationNotFoundError } from './errors.ts';
import type { GenerationUpdatedMessage } from './events.ts';
import { createLeases } from './leases.ts';
import { createSubmissionRecorder } from './record-submission.ts';
import { createOrphanResolver, orphanScanIntervalMs } from './recover.ts';
import { isTerminal, type GenerationStatus } from './status.ts';
import { createGenerationStore } from './store.ts';
import { sqlRunner } from './store-sql.ts';
import { readSubscriptionStart } from './subscription-reads.ts';
import { generationUpdateStream, openGenerationEventStream } from './subscriptions.ts';
import { createSubmit } from './submit.ts';
import { createTrackerRegistry, type TrackTarget } from './tracker-registry.ts';
import { readTenantUsage } from './usage.ts';
import { createWebhookHandler } from './webhook.ts';
import { errorMessage } from '../lib/errors.ts';

export type { Caller } from './caller.ts';
export type { FalBackendName, GenerationServiceDeps, TenantQuotas } from './context.ts';
export type { VerifiedWebhook } from './webhook.ts';
export type { GenerationEventMap, GenerationEventName, GenerationEvents } from './event-map.ts';

/**
 * The domain's facade: composes the verbs (submit, cancel, webhook, recover, authorize-video, track) over one
 * shared context and exposes the typed event map (`events`). Knows nothing of GraphQL or HTTP; every state
 * change of a generation goes through here (reads may go straight to the database).
 */
export function createGenerationService(deps: GenerationServiceDeps) {
  const { db, bus, logger } = deps;
  const store = createGenerationStore(db, { metrics: deps.metrics, sql: deps.sql });
  const slowSubscribers = { buffer: deps.subscriptionBufferEvents, log: (message: string) => logger.warn(message) };
  const emitter = createGenerationEmitter((event, error) =>
    logger.error(`a listener of the generation event "${event}" failed: ${errorMessage(error)}`),
  );
  const publish = createPublish(deps, emitter);

  const loadTarget = async (id: string): Promise<TrackTarget | null> => {
    const row = await db.generation.findUnique({ where: { id } });
    return row && row.falRequestId && !isTerminal(row.status) ? targetOf(row) : null;
  };

  const trackers = createTrackerRegistry({
    store,
    fal: deps.fal,
    leases: createLeases(db, deps.instanceId, deps.lease.ttlMs, deps.sql),
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

  const ctx: DomainContext = { deps, store, trackers, publish, emitter };
  const recorder = createSubmissionRecorder(ctx);
  const orphans = createOrphanResolver({
    db,
    store,
    publish,
    logger,
    orphanAfterSeconds: deps.deadlines.orphanAfterSeconds,
    recordPending: recorder.isPending,
  });

  // A webhook that reached another instance: if we follow that generation, look at it now.
  const stopNudges = bus.subscribe<{ id: string }>(topics.trackingNudge, ({ id }) => {
    if (!trackers.isTracking(id)) return;
    void loadTarget(id).then((target) => target && trackers.restart(target));
  });

  return {
    store,
    /** Domain facts as they happen on this instance (created, submitted, transition, log). */
    events: emitter satisfies GenerationEvents as GenerationEvents,

    generateVideo: createSubmit(ctx, recorder),
    cancelGeneration: createCancel(ctx),
    handleWebhook: createWebhookHandler(ctx),
    /** May this caller read the generation's archived video (GET /videos/<id>.mp4 with an API key)? */
    mayReadVideo: (caller: Caller, generationId: string) => authorizeVideo(db, caller, generationId),

    /**
     * Tells every dashboard and updates-subscriber that something about a generation changed outside a status
     * write (its archived video), re-reading the row for its tenant.
     */
    async announceUpdated(generationId: string): Promise<void> {
      const row = await db.generation.findUnique({ where: { id: generationId }, select: { tenantId: true } });
      if (row) bus.publish<GenerationUpdatedMessage>(topics.generationsUpdated, { id: generationId, tenantId: row.tenantId });
    },

    /** Events of one generation (history, then live), after checking it exists for this caller. */
    async subscribeToEvents(id: string, afterSequence: number | null, caller: Caller) {
      // One read checks ownership and fetches the first history page (after the stream starts listening).
      const tenantId = caller.admin ? null : caller.tenantId;
      const stream = await openGenerationEventStream(
        bus,
        store,
        id,
        afterSequence ?? 0,
        { tenantId, readStart: (after, limit) => readSubscriptionStart(db, id, tenantId, after, limit) },
        { repairMs: deps.subscriptionRepairMs },
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
      return { ...(await readTenantUsage(sqlRunner(db, deps.sql), caller.tenantId)), quotas: deps.quotas };
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
      recorder.stop();
      await orphans.stop();
      await trackers.stop();
    },
  };
}

export type GenerationService = ReturnType<typeof createGenerationService>;
export { isTerminal, type GenerationStatus };
