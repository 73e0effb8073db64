import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs, GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';
import { hardeningPlugins } from './hardening.ts';
import type { GraphQLContext } from '../schema/context.ts';

export interface HttpServerOptions {
  schema: GraphQLSchema;
  /** Builds the per-operation context from the incoming HTTP request (also the WebSocket upgrade request). */
  context: (request: IncomingMessage | Request) => Promise<GraphQLContext> | GraphQLContext;
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
}

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
    context: async (initial: YogaInitialContext & { req?: IncomingMessage }) => options.context(initial.req ?? initial.request),
    plugins: [
      ...hardeningPlugins({ introspection: options.introspection ?? true }),
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
  const server = createServer((req, res) => {
    if (closing) {
      // Stop accepting work: a load balancer retries this on another instance.
      res.writeHead(503, { 'content-type': 'application/json', connection: 'close', 'retry-after': '1' });
      res.end(JSON.stringify({ errors: [{ message: 'Server is shutting down' }] }));
      return;
    }
    // Refuse oversized bodies before reading them (a declared length is checked here; GraphQL documents and
    // webhooks are small, uploads will have their own limit).
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > (options.maxBodyBytes ?? 1024 * 1024)) {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ errors: [{ message: `Request body too large (limit ${options.maxBodyBytes ?? 1024 * 1024} bytes)` }] }));
      req.resume();
      return;
    }
    inFlight.set(res, req);
    res.on('close', () => inFlight.delete(res));
    void yoga(req, res);
  });
  const wss = new WebSocketServer({ server, path: GRAPHQL_PATH });
  useServer(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
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
          contextValue: await options.context(ctx.extra.request),
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

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

function describe(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}
