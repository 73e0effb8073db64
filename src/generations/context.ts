import type { Database, PrismaClient, SqlSession } from '../db/index.ts';
import type { FalGateway } from '../fal/types.ts';
import type { Logger } from '../logger.ts';
import type { MetricsSink } from '../metrics/types.ts';
import { topics, type EventBus } from '../pubsub/index.ts';
import type { PriceTable } from '../billing/prices.ts';
import type { FrameUploads } from '../uploads/index.ts';
import type { GenerationEmitter } from './event-map.ts';
import { type GenerationEvent, type GenerationLogLine, type GenerationUpdatedMessage, type PublishedEvent } from './events.ts';
import { isTerminal } from './status.ts';
import type { GenerationStore } from './store.ts';
import type { TrackerOptions } from './track-generation.ts';
import type { LeaseTiming, TrackerRegistry, TrackTarget } from './tracker-registry.ts';

export type FalBackendName = 'FAL' | 'SIMULATOR';

export interface TenantQuotas {
  maxConcurrent: number | null;
  dailyBudgetMicros: number | null;
  monthlyBudgetMicros: number | null;
}

export interface GenerationServiceDeps {
  db: PrismaClient;
  /**
   * The driver under `db` (same pool or PGlite session): the hot statements run on it (store-sql.ts,
   * submit-sql.ts), and the submission's locked transaction on one of its sessions (withSession).
   */
  sql?: SqlSession & Partial<Pick<Database, 'withSession'>>;
  fal: FalGateway;
  bus: EventBus;
  backend: FalBackendName;
  endpointId: string;
  tracking: TrackerOptions;
  logger: Logger;
  deadlines: { startTimeoutSeconds: number | null; overallSeconds: number; orphanAfterSeconds: number };
  /** Where fal should POST its webhook for a generation; null when no public URL is configured. */
  webhookUrl: (generationId: string) => string | null;
  /** Checks and uploads frames given as files (GraphQL multipart); without it, only frame URLs are accepted. */
  uploads?: FrameUploads;
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

/** Announces the events one guarded write produced, for one tenant's generation. */
export type Publish = (tenantId: string) => (events: GenerationEvent[]) => void;

/** What every verb module works with: the service's dependencies plus the parts the facade builds once. */
export interface DomainContext {
  deps: GenerationServiceDeps;
  store: GenerationStore;
  trackers: TrackerRegistry;
  publish: Publish;
  emitter: GenerationEmitter;
}

/**
 * The one place written events leave a write: to pub/sub (every subscriber, on any instance), to the metrics,
 * and to this instance's typed event map (logger, archiver, tests). Every event handed here was just written
 * by this instance's guarded write, so each counts once.
 */
export function createPublish(deps: Pick<GenerationServiceDeps, 'bus' | 'metrics'>, emitter: GenerationEmitter): Publish {
  // "This generation changed", for dashboards: the writes that complete together (the log writer answers every
  // generation of one statement at once) announce their generations in one bus message (one Redis PUBLISH), each
  // once, at the end of this turn, rather than one message per generation per write.
  let changed: Map<string, GenerationUpdatedMessage> | null = null;
  const announce = () => {
    const messages = [...changed!.values()];
    changed = null;
    deps.bus.publishMany<GenerationUpdatedMessage>(topics.generationsUpdated, messages);
  };
  return (tenantId) => (events) => {
    if (events.length === 0) return;
    // Consecutive lines are reported together, but never reordered with a status change between them.
    let lines: GenerationLogLine[] = [];
    const flushLines = () => {
      if (lines.length > 0) emitter.emit('log', { generationId: events[0].generationId, tenantId, lines });
      lines = [];
    };
    // One bus message for the whole write (one Redis PUBLISH, not one per line); the bus hands every listener
    // the events one by one, in order (pubsub/index.ts), so the hub sees what it saw before.
    // The events themselves (see PublishedEvent): Redis serialises them to their messages, memory hands them over.
    deps.bus.publishMany<PublishedEvent>(topics.generationEvents(events[0].generationId), events);
    for (const event of events) {
      if (event.kind === 'LOG') {
        deps.metrics?.eventHandedOff(event.log.timestamp);
        lines.push(event.log);
        continue;
      }
      flushLines();
      if (isTerminal(event.status)) deps.metrics?.generationFinished(event.status);
      const { generationId, status, sequence, queuePosition, at } = event;
      emitter.emit('transition', { generationId, tenantId, status, sequence, queuePosition, at });
    }
    flushLines();
    if (!changed) {
      changed = new Map();
      setImmediate(announce);
    }
    changed.set(events[0].generationId, { id: events[0].generationId, tenantId });
  };
}

type TargetRow = Pick<TrackTarget, 'id' | 'tenantId' | 'endpointId' | 'deadlineAt'> & { falRequestId: string | null };

/** What a tracker needs from a generation row that has a fal request id. */
export function targetOf(row: TargetRow): TrackTarget {
  return {
    id: row.id,
    tenantId: row.tenantId,
    endpointId: row.endpointId,
    falRequestId: row.falRequestId as string,
    deadlineAt: row.deadlineAt,
  };
}
