import type { PrismaClient, SqlSession } from '../db/index.ts';
import type { Caller } from '../generations/caller.ts';
import type { FalBackendName, GenerationService } from '../generations/service.ts';
import type { FrameUploads } from '../uploads/index.ts';
import type { EventLoader } from './event-loader.ts';
import type { WebhookService } from '../outbound-webhooks/index.ts';

/** Per-request context: runtime instances come from here, never from module scope. */
export interface GraphQLContext {
  db: PrismaClient;
  /** The driver under `db` (pg pool or PGlite), for reads whose statement is written out (the history page). */
  sql: SqlSession;
  generations: GenerationService;
  /** The authenticated caller (tenant, admin scope); every read and write is limited to what it may see. */
  caller: Caller;
  server: ServerInfo;
  /** Origin our own URLs (archived videos) are built on: PUBLIC_URL, or the origin the client used. */
  publicOrigin: string;
  /** Takes one token from the caller's mutation rate limit; throws RateLimitedError when none is left. */
  limitMutation: () => Promise<void>;
  /** The path and query of a generation's video on this server (signed, so it works without a header). */
  videoPath: (generationId: string) => string;
  /** Checks and uploads frames sent as files (GraphQL multipart); see src/uploads. */
  uploads: FrameUploads;
  /** What live events' fields load, made for this request (see schema/event-loader.ts). */
  eventLoader: EventLoader;
  /** Outbound webhook endpoints and deliveries (src/outbound-webhooks). */
  webhooks: WebhookService;
}

export interface ServerInfo {
  falBackend: FalBackendName;
  endpointId: string;
  version: string;
  /** Whether a request without an API key is refused now (it stops being open once any key exists). */
  authRequired: () => Promise<boolean>;
}
