import type { RateLimiter, SharedRateLimiter } from '../auth/rate-limit.ts';
import type { UrlSigner } from '../auth/url-signer.ts';
import type { PrismaClient, SqlSession } from '../db/index.ts';
import type { GenerationService } from '../generations/service.ts';
import type { GraphQLContext, ServerInfo } from '../schema/context.ts';
import type { FrameUploads } from '../uploads/index.ts';
import type { WebhookService } from '../outbound-webhooks/index.ts';
import { createEventLoader } from '../schema/event-loader.ts';
import type { EdgeContext } from './authentication.ts';
import { limitMutations } from './rate-limit-headers.ts';

export interface ContextFactoryOptions {
  db: PrismaClient;
  sql: SqlSession;
  generations: GenerationService;
  server: ServerInfo;
  /** PUBLIC_URL; without it our own URLs are built on the origin the client used. */
  publicUrl: string | null;
  limiter: RateLimiter | SharedRateLimiter | null;
  signer: UrlSigner;
  uploads: FrameUploads;
  webhooks: WebhookService;
}

/**
 * The one contextFactory: Yoga's `context` option, so HTTP and SSE requests (through Yoga's handler) and
 * graphql-ws operations (through getEnveloped().contextFactory()) all get their GraphQL context from here, out
 * of the connection authentication put in the initial context.
 */
export function createContextFactory(options: ContextFactoryOptions): (initial: EdgeContext) => GraphQLContext {
  // Shared by every operation: it depends on the server's signer only (an open subscription keeps its context).
  const videoPath = (generationId: string) => signedVideoPath(options.signer, generationId);
  return (initial) => {
    const connection = initial.connection;
    // Every transport authenticates before anything parses (authentication.ts); anything else is a wiring bug,
    // refused here (and masked by Yoga) rather than run as nobody.
    if (!connection) throw new Error('unauthenticated operation reached GraphQL');
    return {
      db: options.db,
      sql: options.sql,
      generations: options.generations,
      caller: connection.identity.caller,
      server: options.server,
      publicOrigin: options.publicUrl ?? originOf(initial.req),
      limitMutation: limitMutations(options.limiter, connection),
      videoPath,
      uploads: options.uploads,
      // One loader per operation: live events' shared reads are memoised on the events themselves (LiveEvent).
      eventLoader: createEventLoader(options.db),
      webhooks: options.webhooks,
    };
  };
}

/** The signed path of a generation's archived video (stable across instances that share the signing secret). */
export function signedVideoPath(signer: UrlSigner, generationId: string): string {
  const path = `/videos/${generationId}.mp4`;
  return `${path}?${signer.sign(path)}`;
}

/** The origin a client used to reach us (for absolute URLs when PUBLIC_URL is not set). */
function originOf(request: EdgeContext['req']): string {
  return `http://${request.headers.host ?? 'localhost'}`;
}
