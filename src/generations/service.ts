import type { Prisma, PrismaClient } from '../db/index.ts';
import { FalRequestError, type FalGateway } from '../fal/types.ts';
import type { Logger } from '../logger.ts';
import { topics, type EventBus } from '../pubsub/index.ts';
import { GenerationNotFoundError } from './errors.ts';
import { toMessage, type GenerationEvent, type GenerationUpdatedMessage } from './events.ts';
import { isTerminal, type GenerationStatus } from './status.ts';
import { createGenerationStore } from './store.ts';
import { generationEventStream, generationUpdateStream } from './subscriptions.ts';
import { trackGeneration, type TrackerOptions } from './tracker.ts';
import { toFalInput, validateGenerateVideoRequest, type GenerateVideoRequest } from './validation.ts';

export type FalBackendName = 'FAL' | 'SIMULATOR';

export interface GenerationServiceDeps {
  db: PrismaClient;
  fal: FalGateway;
  bus: EventBus;
  backend: FalBackendName;
  endpointId: string;
  tracking: TrackerOptions;
  logger: Logger;
}

/** Who is asking. Every generation belongs to a tenant; API keys (security issue) will fill this in. */
export interface Caller {
  tenantId: string;
}

export const DEFAULT_TENANT = 'default';

/**
 * The domain: create, track, complete, fail, recover. Knows nothing of GraphQL or HTTP; every state change
 * of a generation goes through here (reads may go straight to the database).
 */
export function createGenerationService(deps: GenerationServiceDeps) {
  const { db, fal, bus, logger } = deps;
  const store = createGenerationStore(db);
  const trackers = new Map<string, Promise<void>>();
  const shutdown = new AbortController();

  const publish = (tenantId: string) => (events: GenerationEvent[]) => {
    if (events.length === 0) return;
    for (const event of events) bus.publish(topics.generationEvents(event.generationId), toMessage(event));
    bus.publish<GenerationUpdatedMessage>(topics.generationsUpdated, { id: events[0].generationId, tenantId });
  };

  function track(generation: { id: string; tenantId: string; endpointId: string; falRequestId: string; resumed: boolean }): void {
    if (trackers.has(generation.id) || shutdown.signal.aborted) return;
    const run = trackGeneration(
      { store, fal, publish: publish(generation.tenantId), options: deps.tracking, log: (m) => logger.warn(m) },
      generation,
      shutdown.signal,
    )
      .catch((error: unknown) => logger.error(`generation ${generation.id}: tracker stopped: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => trackers.delete(generation.id));
    trackers.set(generation.id, run);
  }

  async function findOwned(id: string, caller: Caller) {
    const row = await db.generation.findFirst({ where: { id, tenantId: caller.tenantId } });
    if (!row) throw new GenerationNotFoundError(id);
    return row;
  }

  return {
    store,

    /**
     * Validates, writes the row (PENDING, with the exact fal input) and only then submits to fal, storing
     * fal's request id the moment it is known. A crash at any point leaves a row that recovery can resolve.
     */
    async generateVideo(request: GenerateVideoRequest, caller: Caller) {
      const valid = validateGenerateVideoRequest(request);
      const falInput = toFalInput(valid);
      const now = new Date();
      const created = await db.generation.create({
        data: {
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
          lastSequence: 1,
          createdAt: now,
          updatedAt: now,
          events: { create: { sequence: 1, kind: 'STATUS', status: 'PENDING', createdAt: now } },
        },
      });
      const announce = publish(caller.tenantId);
      announce([{ kind: 'STATUS', generationId: created.id, sequence: 1, status: 'PENDING', queuePosition: null, at: now }]);

      let falRequestId: string;
      let queuePosition: number | null;
      try {
        ({ requestId: falRequestId, queuePosition } = await fal.submit(deps.endpointId, falInput));
      } catch (error) {
        const { code, message } =
          error instanceof FalRequestError ? error : { code: 'FAL_SUBMIT_FAILED', message: 'submitting to fal failed' };
        logger.warn(`generation ${created.id}: submit failed: ${code}: ${message}`);
        const event = await store.transition(created.id, 'FAILED', { error: { code, message } });
        if (event) announce([event]);
        return db.generation.findUniqueOrThrow({ where: { id: created.id } });
      }
      await store.recordSubmission(created.id, falRequestId);
      const queued = await store.transition(created.id, 'IN_QUEUE', { queuePosition });
      if (queued) announce([queued]);
      track({ id: created.id, tenantId: caller.tenantId, endpointId: deps.endpointId, falRequestId, resumed: false });
      return db.generation.findUniqueOrThrow({ where: { id: created.id } });
    },

    /** Events of one generation (history, then live), after checking it exists for this caller. */
    async subscribeToEvents(id: string, afterSequence: number | null, caller: Caller) {
      await findOwned(id, caller);
      return generationEventStream(bus, store, id, afterSequence ?? 0);
    },

    subscribeToUpdates(caller: Caller) {
      return generationUpdateStream(bus, (message) => message.tenantId === caller.tenantId);
    },

    async getGeneration(id: string, caller: Caller) {
      return findOwned(id, caller);
    },

    /**
     * Picks up every generation that is not terminal (after a restart, or after a crash). Requests fal
     * already knows are tracked again; a PENDING row without a fal request id is left alone here (the
     * reliability work resolves those without ever submitting twice).
     */
    async recover(): Promise<number> {
      const rows = await db.generation.findMany({
        where: { status: { in: ['PENDING', 'IN_QUEUE', 'IN_PROGRESS'] }, falRequestId: { not: null } },
        select: { id: true, tenantId: true, endpointId: true, falRequestId: true },
      });
      for (const row of rows) track({ ...row, falRequestId: row.falRequestId as string, resumed: true });
      if (rows.length > 0) logger.info(`resumed tracking ${rows.length} in-flight generation(s)`);
      return rows.length;
    },

    /** Number of generations being followed upstream by this process right now. */
    activeTrackers(): number {
      return trackers.size;
    },

    /** Stops every tracker without changing any row: the next start resumes them. */
    async stop(): Promise<void> {
      shutdown.abort();
      await Promise.allSettled([...trackers.values()]);
    },
  };
}

export type GenerationService = ReturnType<typeof createGenerationService>;
export { isTerminal, type GenerationStatus };
