import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs, GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Authenticator, Identity } from '../auth/authenticator.ts';
import type { Logger } from '../logger.ts';
import { DIRECT_SINK, useCohortExecution, type DirectSink } from './cohort.ts';
import { hardeningPlugins } from './hardening.ts';
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
}

export interface ConnectionInfo {
  identity: Identity;
  setHeader(name: string, value: string): void;
}

// Browsers may send these content types cross-site without a preflight; such a request must also carry a
// header only a script allowed by CORS can set (Yoga's and Apollo's CSRF prevention use the same names).
const PREFLIGHT_HEADERS = ['x-graphql-yoga-csrf', 'graphql-require-preflight', 'apollo-require-preflight'];
const NON_SIMPLE_TYPES = ['application/json', 'application/graphql-response+json', 'application/graphql'];

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
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const yoga = createYoga<{ nodeRequest?: IncomingMessage }>({
    schema: options.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
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
      const connection = initial.req ? connections.get(initial.req) : undefined;
      // Every GraphQL request went through handle(), which authenticated it; anything else is refused.
      if (!connection) throw new Error('unauthenticated request reached GraphQL');
      return options.context(initial.req ?? initial.request, connection);
    },
    plugins: [
      ...hardeningPlugins({ introspection: options.introspection ?? true }),
      // One execution per live event per cohort of identical subscriptions of one tenant (see cohort.ts).
      useCohortExecution((context) => {
        const ctx = context as GraphQLContext;
        return `${ctx.caller.tenantId}\u0000${ctx.caller.admin === true}\u0000${ctx.publicOrigin}`;
      }),
      ...(options.routes
        ? [
            {
              async onRequest({ request, endResponse }: { request: Request; endResponse: (response: Response) => void }) {
                const response = await options.routes?.(request);
                if (response) endResponse(response);
              },
            },
          ]
        : []),
    ],
  });

  let closing = false;
  const inFlight = new Map<import('node:http').ServerResponse, IncomingMessage>();
  const connections = new WeakMap<IncomingMessage, ConnectionInfo>();
  // Long-lived connections by the key they authenticated with, so a revocation can end them.
  const byKey = new Map<string, Set<() => void>>();
  const holdConnection = (keyId: string | null, end: () => void): (() => void) => {
    if (!keyId) return () => {};
    const release = options.auth.hold(keyId);
    const set = byKey.get(keyId) ?? new Set();
    set.add(end);
    byKey.set(keyId, set);
    return () => {
      release();
      set.delete(end);
      if (set.size === 0) byKey.delete(keyId);
    };
  };
  const stopRevocations = options.auth.onRevoked((keyIds) => {
    for (const id of keyIds) for (const end of byKey.get(id) ?? []) end();
  });
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxUploadBody = Math.max(maxBody, options.maxUploadBodyBytes ?? maxBody);

  const server = createServer((req, res) => {
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
  });

  async function handle(req: IncomingMessage, res: import('node:http').ServerResponse) {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const isGraphQL = path === GRAPHQL_PATH;
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      // Refuse oversized bodies before reading them. A GraphQL body without a declared length (chunked) is
      // refused too, as Yoga would read it whole: documents and uploads from browsers and fetch declare theirs.
      // Other routes (fal's webhooks) bound what they read themselves, so their senders' framing never matters.
      if (isGraphQL && req.headers['content-length'] === undefined) {
        req.resume();
        return refuse(res, 411, 'A Content-Length header is required');
      }
      const limit = isGraphQL && contentType === 'multipart/form-data' ? maxUploadBody : maxBody;
      if (Number(req.headers['content-length']) > limit) {
        req.resume();
        return refuse(res, 413, `Request body too large (limit ${limit} bytes)`);
      }
      if (isGraphQL && !NON_SIMPLE_TYPES.includes(contentType) && !PREFLIGHT_HEADERS.some((h) => req.headers[h] !== undefined)) {
        req.resume();
        return refuse(res, 403, `Cross-site request refused: send a JSON body, or the "${PREFLIGHT_HEADERS[0]}" header with form and multipart requests`);
      }
    }
    // GraphiQL's page holds no data; with GraphiQL off, a browser GET is an ordinary (authenticated) operation.
    const wantsPage = options.graphiql && method === 'GET' && (req.headers.accept ?? '').includes('text/html') && !(req.headers.accept ?? '').includes('text/event-stream');
    if (isGraphQL && !wantsPage) {
      const outcome = await options.auth.authenticate(req.headers.authorization);
      if (!outcome.ok) {
        req.resume();
        return refuse(res, 401, outcome.message, { 'www-authenticate': `Bearer realm="reelgraph"${outcome.reason === 'invalid' ? ', error="invalid_token"' : ''}` });
      }
      connections.set(req, { identity: outcome.identity, setHeader: (name, value) => !res.headersSent && res.setHeader(name, value) });
      if ((req.headers.accept ?? '').includes('text/event-stream')) {
        // A Server-Sent Events subscription lives as long as its key: a revocation ends it.
        const release = holdConnection(outcome.identity.keyId, () => res.end());
        res.on('close', release);
      }
    }
    inFlight.set(res, req);
    res.on('close', () => inFlight.delete(res));
    await yoga(req, res);
  }

  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH });
  useServer<Record<string, unknown> | undefined, { identity?: Identity; release?: () => void }>(
    {
      // connection_init must carry a valid key (connectionParams.authorization, or the upgrade request's
      // Authorization header) when the server needs one; returning false closes with 4403 Forbidden.
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const given = typeof params.authorization === 'string' ? params.authorization : typeof params.Authorization === 'string' ? params.Authorization : undefined;
        const outcome = await options.auth.authenticate(given ?? ctx.extra.request.headers.authorization);
        if (!outcome.ok) return false;
        ctx.extra.identity = outcome.identity;
        ctx.extra.release = holdConnection(outcome.identity.keyId, () => ctx.extra.socket.close(4403, 'Forbidden: API key revoked'));
        return true;
      },
      onClose: (ctx) => ctx.extra.release?.(),
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, subscribe, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as never];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: Object.assign(await options.context(ctx.extra.request, { identity: ctx.extra.identity as Identity, setHeader: () => {} }), {
            [DIRECT_SINK]: directSink(ctx.extra.socket, id),
          }),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
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
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ url: `http://${shownHost}:${address.port}${GRAPHQL_PATH}`, port: address.port });
        });
      });
    },
    async close() {
      closing = true;
      stopRevocations();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // 1001 "going away": clients such as graphql-ws reconnect, to the next instance.
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      const wsClosed = new Promise<void>((resolve) => wss.close(() => resolve()));
      // Server-Sent Event responses never finish by themselves; end them so clients reconnect elsewhere.
      for (const [res, req] of inFlight) if (req.headers.accept?.includes('text/event-stream')) res.end();
      server.closeIdleConnections();
      // Let in-flight requests (a mutation waiting on fal's submit) finish, within the bound.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, options.shutdownTimeoutMs ?? 10_000).unref());
      const drained = (async () => {
        while (inFlight.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      })();
      await Promise.race([drained, deadline]);
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

function refuse(res: import('node:http').ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...(status === 411 || status === 413 ? { connection: 'close' } : {}), ...headers });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST', http: { status } } }] }));
}
