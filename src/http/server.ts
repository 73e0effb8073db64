import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { GraphQLSchema } from 'graphql';
import type { Authenticator } from '../auth/authenticator.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import type { GraphQLContext } from '../schema/context.ts';
import type { EdgeContext } from './authentication.ts';
import { createConnectionRegistry } from './connections.ts';
import { createGate } from './gate.ts';
import { refuse } from './refusals.ts';
import { attachGraphqlWs } from './graphql-ws.ts';
import { withRequestContext } from './request-context.ts';
import { createYogaServer, GRAPHQL_PATH } from './yoga.ts';

export { GRAPHQL_PATH };

export interface HttpServerOptions {
  schema: GraphQLSchema;
  /** The one contextFactory (context.ts): HTTP, SSE and graphql-ws operations all get their context from it. */
  context: (initial: EdgeContext) => Promise<GraphQLContext> | GraphQLContext;
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
  /** How often each WebSocket is pinged (WS_KEEPALIVE_MS); one that missed the previous ping is dropped. */
  wsKeepAliveMs?: number;
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

export interface HttpServer {
  listen(port: number, host: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  readonly server: Server;
}

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
 * Server-Sent Events (Yoga's built-in) and over graphql-ws WebSockets on the same path. This is the node:http
 * server that composes the parts: every request and upgrade passes the gate (gate.ts) first, then Yoga
 * (yoga.ts, which authenticates) or graphql-ws (graphql-ws.ts); connections are kept in the registry
 * (connections.ts) for key revocation and shutdown.
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
  const yoga = createYogaServer({
    schema: options.schema,
    context: options.context,
    auth: options.auth,
    registry,
    logger: options.logger,
    graphiql: options.graphiql,
    introspection: options.introspection ?? true,
    routes: options.routes,
    metrics: options.metrics,
  });
  // Yoga reads the body from the gate's bounded stream; its context gets the real Node request (Host header).
  const yogaListener = yoga.requestListener as unknown as (
    req: IncomingMessage,
    res: ServerResponse,
    context: { req: IncomingMessage },
  ) => Promise<void>;

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
        options.logger.error(`request failed: ${errorMessage(error)}`);
        if (!res.headersSent) refuse(res, 500, 'Internal server error');
      });
    }),
  );

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const admitted = await gate.admit(req, res);
    if (!admitted) return;
    registry.track(res);
    await yogaListener(admitted, res, { req });
  }

  const ws = attachGraphqlWs({
    server,
    yoga,
    gate,
    auth: options.auth,
    registry,
    logger: options.logger,
    metrics: options.metrics,
    closing: () => closing,
    maxMessageBytes: maxBody,
    keepAliveMs: options.wsKeepAliveMs,
  });

  const sockets = new Set<Socket>();
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
      const wsClosed = ws.close();
      server.closeIdleConnections();
      // Streams (SSE, multipart) never finish by themselves: they end at once, so clients reconnect elsewhere.
      // Other in-flight requests (a mutation waiting on fal's submit) may finish, within the bound.
      await registry.drain(options.shutdownTimeoutMs ?? 10_000);
      for (const socket of sockets) socket.destroy();
      await Promise.all([closed, wsClosed]);
    },
  };
}
