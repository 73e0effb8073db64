import { errorSummary } from '../lib/errors.ts';
import type { GraphQLError, GraphQLSchema } from 'graphql';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import type { GraphQLContext } from '../schema/context.ts';
import { useAuthentication, type EdgeContext } from './authentication.ts';
import { useCohortExecution } from './cohort.ts';
import type { ConnectionRegistry } from './connections.ts';
import { useCsrfPrevention } from './gate.ts';
import { hardeningPlugins } from './hardening.ts';
import { useCompiledQueries } from './compiled-queries.ts';

export const GRAPHQL_PATH = '/graphql';

/** What a client sees of an error that is not one of ours (no stack trace, URL or secret leaves the server). */
const UNEXPECTED_ERROR = 'Unexpected error.';

export interface YogaOptions {
  schema: GraphQLSchema;
  /** The one contextFactory every transport builds its GraphQL context with (see context.ts). */
  context: (initial: EdgeContext) => GraphQLContext | Promise<GraphQLContext>;
  auth: Authenticator;
  registry: ConnectionRegistry;
  logger: Logger;
  graphiql: boolean;
  /** Schema introspection (off in production unless asked for). */
  introspection: boolean;
  /** Extra routes served before GraphQL (health checks, files); return a Response when handled. */
  routes?: (request: Request) => Promise<Response | null> | Response | null;
  metrics?: Pick<Metrics, 'yogaPlugin' | 'subscriptionOpened'>;
}

export type Yoga = YogaServerInstance<EdgeContext, GraphQLContext>;

const GRAPHIQL_DEFAULT_QUERY = `# Generate a video, then paste its id into the subscription below and run that.
mutation Generate {
  generateVideo(input: {
    imageUrl: "https://v3b.fal.media/files/b/0a8cfd5a/8ABMp4n9rh3kfD2Rq8fHd_start_frame.png"
    prompt: "The character walks forward slowly, with the camera following from behind."
    duration: 5
  }) {
    __typename
    ... on GenerateVideoSuccess { generation { id status backend } }
    ... on InputValidationError { message fieldErrors { path message } }
  }
}

subscription Follow {
  videoGenerationEvents(id: "PASTE-THE-ID-HERE") {
    sequence
    ... on VideoGenerationStatusEvent { status queuePosition }
    ... on VideoGenerationLogEvent { log { message timestamp } }
    generation { status video { url } error { code message } }
  }
}

query Recent {
  serverInfo { falBackend simulated }
  videoGenerations(first: 10) {
    edges { node { id status prompt createdAt video { url } } }
  }
}
`;

/**
 * GraphiQL's page for a browser's GET. A GET that also accepts an event stream is an SSE operation instead,
 * authenticated like any other.
 */
function servesPage(request: Request): boolean {
  const accept = request.headers.get('accept') ?? '';
  return request.method === 'GET' && accept.includes('text/html') && !accept.includes('text/event-stream');
}

/** The Yoga instance: the envelop pipeline (limits, metrics, authentication, cohorts) every transport runs through. */
export function createYogaServer(options: YogaOptions): Yoga {
  const graphiql = { subscriptionsProtocol: 'WS' as const, title: 'reelgraph', defaultQuery: GRAPHIQL_DEFAULT_QUERY };
  return createYoga<EdgeContext, GraphQLContext>({
    schema: options.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // The gate answers CORS (Yoga's default reflects any origin, with credentials).
    cors: false,
    // The gate bounds every body while it streams; Yoga's own check would only see a whole one.
    maxRequestBodySize: false,
    // GraphiQL talks to subscriptions over graphql-ws, the same socket dashboards use.
    graphiql: options.graphiql ? (request) => (servesPage(request) ? graphiql : false) : false,
    // GraphiQL's scripts are bundled in the package instead of loaded from a CDN, so it works offline. Loaded on
    // the first page asked for: the bundle is a 9 MB module, about 37 MB of RSS in every process that never shows it.
    renderGraphiQL: async (graphiqlOptions) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiqlOptions),
    // Unexpected errors are masked ("Unexpected error.") so no stack trace, URL or secret leaves the server.
    maskedErrors: { errorMessage: UNEXPECTED_ERROR },
    logging: {
      debug: () => {},
      info: (...args: unknown[]) => options.logger.info(args.map(String).join(' ')),
      warn: (...args: unknown[]) => options.logger.warn(args.map(String).join(' ')),
      error: (...args: unknown[]) => options.logger.error(args.map((arg) => errorSummary(arg)).join(' ')),
    },
    context: options.context,
    plugins: [
      ...hardeningPlugins({ introspection: options.introspection }),
      ...(options.metrics ? [options.metrics.yogaPlugin()] : []),
      // Before the routes and authentication, as before Yoga: a cross-site form is refused whoever sends it.
      useCsrfPrevention(GRAPHQL_PATH),
      // One execution per live event per cohort of identical subscriptions of one tenant (see cohort.ts).
      useCohortExecution({
        cohortOf: (context) => {
          const ctx = context as GraphQLContext;
          return `${ctx.caller.tenantId}\u0000${ctx.caller.admin === true}\u0000${ctx.publicOrigin}`;
        },
        // Subscriptions are masked there, with the mask Yoga applies to everything else (see cohort.ts).
        maskError: (error) => {
          const shown = maskError(error, UNEXPECTED_ERROR) as GraphQLError;
          if (shown !== error) options.logger.error(errorSummary(error));
          return shown;
        },
      }),
      {
        // The plain routes (webhooks, videos, health, dashboard); every other path is not GraphQL's either.
        async onRequest(payload) {
          const response = await options.routes?.(payload.request);
          if (response) return payload.endResponse(response);
          if (payload.url.pathname !== GRAPHQL_PATH) {
            payload.endResponse(
              new Response(JSON.stringify({ errors: [{ message: `Not found: GraphQL is served at ${GRAPHQL_PATH}` }] }), {
                status: 404,
                headers: { 'content-type': 'application/json' },
              }),
            );
          }
        },
      },
      useCompiledQueries(),
      useAuthentication({
        auth: options.auth,
        registry: options.registry,
        graphqlPath: GRAPHQL_PATH,
        // GraphiQL's page holds no data; with GraphiQL off, a browser GET is an ordinary (authenticated) operation.
        servesPage: options.graphiql ? servesPage : () => false,
        metrics: options.metrics,
      }),
    ],
  });
}
