import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Authenticator, Identity } from '../auth/authenticator.ts';
import { isPublicQuery, PUBLIC_IDENTITY, publicQueryOf } from '../auth/public-operations.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import { DIRECT_SINK, useCohortExecution, type DirectSink } from './cohort.ts';
import { createConnectionRegistry, type ConnectionInfo } from './connections.ts';
import { createGate, refuse, refuseUpgrade } from './gate.ts';
import { hardeningPlugins } from './hardening.ts';
import { observeWebSockets, withRequestContext } from './request-context.ts';
import type { GraphQLContext } from '../schema/context.ts';

export interface HttpServerOptions {
  schema: GraphQLSchema;
  /**
   * Builds the per-operation context from the incoming HTTP request (also the WebSocket upgrade request), the
   * authenticated identity and a way to add response headers (a no-op on WebSockets).
   */
  context: (request: IncomingMessage | Request, connection: ConnectionInfo) => Promise<GraphQLContext> | GraphQLContext;
  /** API keys: every GraphQL request and WebSocket connection is authenticated before anything runs. */
  auth: Authenticator;
  logger: Logger;
  graphiql: boolean;
  /** Extra routes served before GraphQL (health checks, files); return a Response when handled. */
  routes?: (request: Request) => Promise<Response | null> | Response | null;
  /** How long close() lets in-flight requests finish before cutting connections. */
  shutdownTimeoutMs?: number;
  /** Schema introspection (off in production unless asked for). */
  introspection?: boolean;
  /** Largest request body accepted, in bytes (413 above it). */
  maxBodyBytes?: number;
  /** Largest multipart (file upload) request body accepted, in bytes. */
  maxUploadBodyBytes?: number;
  /** Exact browser origins allowed to call the API (CORS_ORIGINS); same-origin only when empty. */
  corsOrigins?: readonly string[];
  /** Our external origin (PUBLIC_URL): its origin and host are our own. */
  publicUrl?: string | null;
  /** A server already listening (bindHttpServer), so a taken port fails before any other start-up work. */
  server?: Server;
  /** GraphQL timings and open subscriptions by transport. */
  metrics?: Pick<Metrics, 'yogaPlugin' | 'subscriptionOpened'>;
}

export type { ConnectionInfo };

export interface HttpServer {
  listen(port: number, host: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  readonly server: Server;
}

export const GRAPHQL_PATH = '/graphql';

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
 * One port and one path for everything GraphQL: queries and mutations over HTTP, subscriptions over
 * Server-Sent Events (Yoga's built-in) and over graphql-ws WebSockets on the same path.
 */
/** The placeholder answer while the port is bound but the rest of the server is still starting. */
function starting(_req: IncomingMessage, res: ServerResponse) {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message: 'Server is starting' }] }));
}

/**
 * Binds the port first, before the database and everything else start (which takes seconds on PGlite): a port
 * that is taken fails at once, with one line that names it. Requests that arrive meanwhile get 503.
 */
export function bindHttpServer(port: number, host: string): Promise<Server> {
  const server = createServer(starting);
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use (set PORT to a free port)`));
      else if (error.code === 'EACCES')
        reject(new Error(`port ${port} on ${host} needs privileges this process does not have (set PORT above 1023)`));
      else if (error.code === 'EADDRNOTAVAIL')
        reject(new Error(`cannot listen on ${host}:${port}: ${host} is not an address of this machine (set HOST)`));
      else reject(error);
    });
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
  });
}

function addressOf(server: Server): { url: string; port: number } {
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${shownHost}:${address.port}${GRAPHQL_PATH}`, port: address.port };
}

/**
 * One port and one path for everything GraphQL: queries and mutations over HTTP, subscriptions over
 * Server-Sent Events (Yoga's built-in) and over graphql-ws WebSockets on the same path. Every request and
 * upgrade passes the gate (gate.ts) first; connections are kept in the registry (connections.ts).
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const registry = createConnectionRegistry(options.auth);
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const gate = createGate({
    corsOrigins: options.corsOrigins ?? [],
    publicUrl: options.publicUrl ?? null,
    isOpen: () => options.auth.isOpen(),
    graphqlPath: GRAPHQL_PATH,
    maxBodyBytes: maxBody,
    maxUploadBodyBytes: Math.max(maxBody, options.maxUploadBodyBytes ?? maxBody),
  });
  const introspection = options.introspection ?? true;

  const yoga = createYoga<{ nodeRequest?: IncomingMessage }>({
    schema: options.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // The gate answers CORS (Yoga's default reflects any origin, with credentials).
    cors: false,
    // The gate bounds every body while it streams; Yoga's own check would only see a whole one.
    maxRequestBodySize: false,
    // GraphiQL talks to subscriptions over graphql-ws, the same socket dashboards use.
    graphiql: options.graphiql ? { subscriptionsProtocol: 'WS', title: 'reelgraph', defaultQuery: GRAPHIQL_DEFAULT_QUERY } : false,
    // GraphiQL's scripts are bundled in the package instead of loaded from a CDN, so it works offline.
    renderGraphiQL,
    // Unexpected errors are masked ("Unexpected error.") so no stack trace, URL or secret leaves the server.
    maskedErrors: true,
    logging: {
      debug: () => {},
      info: (...args: unknown[]) => options.logger.info(args.map(String).join(' ')),
      warn: (...args: unknown[]) => options.logger.warn(args.map(String).join(' ')),
      error: (...args: unknown[]) => options.logger.error(args.map(describe).join(' ')),
    },
    // The Node request carries the Host header the client used (Yoga's Request URL does not).
    context: async (initial: YogaInitialContext & { req?: IncomingMessage }) => {
      const connection = initial.req ? registry.identityOf(initial.req) : undefined;
      // Every GraphQL request went through handle(), which authenticated it; anything else is refused.
      if (!connection) throw new Error('unauthenticated request reached GraphQL');
      return options.context(initial.req ?? initial.request, connection);
    },
    plugins: [
      ...hardeningPlugins({ introspection }),
      ...(options.metrics ? [options.metrics.yogaPlugin()] : []),
      // One execution per live event per cohort of identical subscriptions of one tenant (see cohort.ts).
      useCohortExecution((context) => {
        const ctx = context as GraphQLContext;
        return `${ctx.caller.tenantId}\u0000${ctx.caller.admin === true}\u0000${ctx.publicOrigin}`;
      }),
      {
        // The plain routes (webhooks, videos, health, dashboard); every other path is not GraphQL's either.
        async onRequest({ request, endResponse }: { request: Request; endResponse: (response: Response) => void }) {
          const response = await options.routes?.(request);
          if (response) return endResponse(response);
          if (new URL(request.url).pathname !== GRAPHQL_PATH) {
            endResponse(
              new Response(JSON.stringify({ errors: [{ message: `Not found: GraphQL is served at ${GRAPHQL_PATH}` }] }), {
                status: 404,
                headers: { 'content-type': 'application/json' },
              }),
            );
          }
        },
      },
    ],
  });

  let closing = false;
  const server = options.server ?? createServer();
  server.off('request', starting);
  server.on(
    'request',
    withRequestContext(options.logger, (req, res) => {
      if (closing) {
        // Stop accepting work: a load balancer retries this on another instance.
        res.writeHead(503, { 'content-type': 'application/json', connection: 'close', 'retry-after': '1' });
        res.end(JSON.stringify({ errors: [{ message: 'Server is shutting down' }] }));
        return;
      }
      void handle(req, res).catch((error) => {
        options.logger.error(`request failed: ${describe(error)}`);
        if (!res.headersSent) refuse(res, 500, 'Internal server error');
      });
    }),
  );

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const admitted = await gate.admit(req, res);
    if (!admitted) return;
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    // GraphiQL's page holds no data; with GraphiQL off, a browser GET is an ordinary (authenticated) operation.
    const wantsPage =
      options.graphiql &&
      method === 'GET' &&
      (req.headers.accept ?? '').includes('text/html') &&
      !(req.headers.accept ?? '').includes('text/event-stream');
    if (path === GRAPHQL_PATH && !wantsPage) {
      const outcome = await options.auth.authenticate(req.headers.authorization);
      let identity: Identity;
      if (outcome.ok) identity = outcome.identity;
      // Without a key, a GET of public fields only (serverInfo) still runs: see src/auth/public-operations.ts.
      else if (outcome.reason === 'missing' && isPublicQuery(publicQueryOf(method, req.url))) identity = PUBLIC_IDENTITY;
      else {
        req.resume();
        return refuse(res, 401, outcome.message, {
          'www-authenticate': `Bearer realm="reelgraph"${outcome.reason === 'invalid' ? ', error="invalid_token"' : ''}`,
        });
      }
      registry.identify(req, { identity, setHeader: (name, value) => !res.headersSent && res.setHeader(name, value) });
      // Every GraphQL response lives only as long as its key, however its stream was negotiated.
      res.on(
        'close',
        registry.holdKey(identity.keyId, () => res.end()),
      );
      // Counted as an SSE subscription when the client asked for an event stream (every SSE client library does).
      if (options.metrics && /text\/event-stream/i.test(req.headers.accept ?? ''))
        res.on('close', options.metrics.subscriptionOpened('sse'));
    }
    registry.track(res);
    // Yoga reads the body from `admitted` (bounded by the gate); its context gets the real Node request.
    await (
      yoga.requestListener as unknown as (req: IncomingMessage, res: ServerResponse, context: { req: IncomingMessage }) => Promise<void>
    )(admitted, res, { req });
  }

  const wss = new WebSocketServer({ noServer: true });
  observeWebSockets(wss, options.logger);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      if (closing) return refuseUpgrade(socket, { status: 503, message: 'Server is shutting down' });
      if ((req.url ?? '/').split('?')[0] !== GRAPHQL_PATH)
        return refuseUpgrade(socket, { status: 404, message: `Not found: WebSockets are served at ${GRAPHQL_PATH}` });
      // Browsers send Origin on WebSocket handshakes and CORS does not apply to them: the gate's checks must.
      const refusal = await gate.admitUpgrade(req);
      if (refusal) return refuseUpgrade(socket, refusal);
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    })().catch((error) => {
      options.logger.error(`upgrade failed: ${describe(error)}`);
      socket.destroy();
    });
  });
  useServer<Record<string, unknown> | undefined, { identity?: Identity; release?: () => void; open?: Map<string, () => void> }>(
    {
      // connection_init must carry a valid key (connectionParams.authorization, or the upgrade request's
      // Authorization header) when the server needs one; returning false closes with 4403 Forbidden.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const given =
          typeof params.authorization === 'string'
            ? params.authorization
            : typeof params.Authorization === 'string'
              ? params.Authorization
              : undefined;
        const outcome = await options.auth.authenticate(given ?? ctx.extra.request.headers.authorization);
        if (!outcome.ok) return false;
        ctx.extra.identity = outcome.identity;
        ctx.extra.release = registry.holdKey(outcome.identity.keyId, () => ctx.extra.socket.close(4403, 'Forbidden: API key revoked'));
        return true;
      },
      onClose: (ctx) => {
        ctx.extra.release?.();
        for (const close of ctx.extra.open?.values() ?? []) close();
      },
      onComplete: (ctx, id) => {
        ctx.extra.open?.get(id)?.();
        ctx.extra.open?.delete(id);
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, subscribe, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        // The same envelop pipeline as HTTP: graphql-armor's limits throw from parse and validate, and a
        // thrown error must answer this one subscription (an `error` message), as HTTP answers its request,
        // instead of closing the whole socket with 4500.
        let document;
        try {
          document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: Object.assign(
            await options.context(ctx.extra.request, { identity: ctx.extra.identity as Identity, setHeader: () => {} }),
            {
              [DIRECT_SINK]: directSink(ctx.extra.socket, id),
            },
          ),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        // Counted until graphql-ws completes it (either side) or the socket closes, whichever comes first.
        if (options.metrics && getOperationAST(document, payload.operationName)?.operation === 'subscription')
          (ctx.extra.open ??= new Map()).set(id, options.metrics.subscriptionOpened('graphql-ws'));
        return args;
      },
    },
    wss,
  );

  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    server,
    listen(port, host) {
      if (server.listening) return Promise.resolve(addressOf(server));
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(addressOf(server));
        });
      });
    },
    async close() {
      closing = true;
      registry.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // 1001 "going away": clients such as graphql-ws reconnect, to the next instance.
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      const wsClosed = new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeIdleConnections();
      // Streams (SSE, multipart) never finish by themselves: they end at once, so clients reconnect elsewhere.
      // Other in-flight requests (a mutation waiting on fal's submit) may finish, within the bound.
      await registry.drain(options.shutdownTimeoutMs ?? 10_000);
      for (const socket of sockets) socket.destroy();
      await Promise.all([closed, wsClosed]);
    },
  };
}

// Past this much unsent data a slow client's frames wait for the socket, instead of piling up in memory: a
// socket holds at most this plus one frame per subscription (graphql-ws' own sends wait for each write too).
// While a subscription waits here it takes no events, so one whose client never drains overflows its bounded
// buffer and is ended with close(4429) (see generations/subscriptions.ts and cohort.ts).
const SLOW_CLIENT_BYTES = 1024 * 1024;

/** Lets cohort execution write a subscription's `next` frames to its socket itself (see cohort.ts). */
function directSink(socket: import('ws').WebSocket, id: string): DirectSink {
  return {
    prefix: `{"id":${JSON.stringify(id)},"type":"next","payload":`,
    open: () => socket.readyState === socket.OPEN,
    close(code, reason) {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
    },
    send(frame) {
      if (socket.bufferedAmount < SLOW_CLIENT_BYTES) return socket.send(frame, { binary: false });
      return new Promise<void>((resolve) => socket.send(frame, { binary: false }, () => resolve()));
    },
  };
}

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

function describe(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}
