import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, OperationTypeNode, getOperationAST, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Authenticator, Identity } from '../auth/authenticator.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import { authenticateSocket, type Connection, type EdgeContext } from './authentication.ts';
import { DIRECT_SINK, type DirectSink } from './cohort.ts';
import type { ConnectionRegistry } from './connections.ts';
import type { Gate } from './gate.ts';
import { refuseUpgrade } from './refusals.ts';
import { observeWebSockets } from './request-context.ts';
import type { GraphQLContext } from '../schema/context.ts';
import { END_SLOW_SUBSCRIBER, type SlowSubscriberContext } from '../schema/subscriber.ts';
import { GRAPHQL_PATH, type Yoga } from './yoga.ts';

export interface GraphqlWsOptions {
  server: Server;
  yoga: Yoga;
  gate: Gate;
  auth: Authenticator;
  registry: ConnectionRegistry;
  logger: Logger;
  metrics?: Pick<Metrics, 'subscriptionOpened'>;
  /** True once the server is shutting down: new upgrades are refused with 503. */
  closing: () => boolean;
}

export interface GraphqlWs {
  /** Closes every socket with 1001 "going away" (graphql-ws clients reconnect, to the next instance). */
  close(): Promise<void>;
}

/** What graphql-ws keeps per socket. */
type SocketState = {
  identity?: Identity;
  release?: () => void;
  /** Open subscriptions by id, each with the end of its metrics count. */
  open?: Map<string, () => void>;
  /** The authenticated connection every operation's context gets (one per socket, not one per operation). */
  connection?: Connection;
};

/**
 * The ExecutionArgs onSubscribe hands graphql-ws, with the envelop pipeline that parsed them: graphql-ws then
 * calls execute/subscribe with this same object, so each operation runs through its own getEnveloped() (as
 * Yoga's graphql-ws example does), without smuggling those functions in as the operation's rootValue.
 */
interface EnvelopedArgs extends ExecutionArgs {
  /** Dropped once graphql-ws has called it (once per operation): graphql-ws keeps the arguments while it runs. */
  enveloped?: Pick<Enveloped, 'execute' | 'subscribe'>;
}

/** What yoga.getEnveloped() returns, typed (envelop's own types leave most of it `any`). */
interface Enveloped {
  schema: GraphQLSchema;
  parse: (source: string) => DocumentNode;
  validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
  contextFactory: () => Promise<GraphQLContext> | GraphQLContext;
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/**
 * graphql-ws on the GraphQL path of the same port. Upgrades pass the gate (Host, Origin) first; connection_init
 * must carry a valid key when the server needs one (refused: close 4403); every operation then builds its
 * context through the same Yoga pipeline and contextFactory as HTTP and SSE.
 */
export function attachGraphqlWs(options: GraphqlWsOptions): GraphqlWs {
  const { yoga, logger } = options;
  const wss = new WebSocketServer({ noServer: true });
  observeWebSockets(wss, logger);
  options.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void (async () => {
      if (options.closing()) return refuseUpgrade(socket, { status: 503, message: 'Server is shutting down' });
      if ((req.url ?? '/').split('?')[0] !== GRAPHQL_PATH)
        return refuseUpgrade(socket, { status: 404, message: `Not found: WebSockets are served at ${GRAPHQL_PATH}` });
      // Browsers send Origin on WebSocket handshakes and CORS does not apply to them: the gate's checks must.
      const refusal = await options.gate.admitUpgrade(req);
      if (refusal) return refuseUpgrade(socket, refusal);
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    })().catch((error) => {
      logger.error(`upgrade failed: ${errorMessage(error)}`);
      socket.destroy();
    });
  });

  useServer<Record<string, unknown> | undefined, SocketState>(
    {
      // Returning false closes the socket with 4403 Forbidden.
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const held = await authenticateSocket(options, ctx.connectionParams, ctx.extra.request, () =>
          socket.close(4403, 'Forbidden: API key revoked'),
        );
        if (!held) return false;
        ctx.extra.identity = held.identity;
        ctx.extra.release = held.release;
        ctx.extra.connection = { identity: held.identity, setHeader: ignoreHeader };
        // graphql-ws keeps `extra` for the socket's lifetime, and with it the whole upgrade request (its stream
        // state, raw headers, key): after authentication an operation needs only the Host header (context.ts).
        (ctx.extra as { request: EdgeContext['req'] }).request = { headers: { host: ctx.extra.request.headers.host } };
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
      execute: (args) => released(args).execute(args) as never,
      subscribe: (args) => released(args).subscribe(args) as never,
      onSubscribe: async (ctx, id, payload) => {
        // Every key the context will ever have is in this literal (CONTEXT_SLOTS: the contextFactory's own, set
        // by Yoga's Object.assign, and the slow-subscriber end cohort.ts adds). Added one by one instead, past
        // the twelfth V8 turns the object into a hash table (about 1.6 KB instead of 0.2 KB), and every open
        // subscription keeps its context (envelop's subscribe closure holds it until the subscription ends).
        const initial: EdgeContext & { [DIRECT_SINK]: DirectSink } = {
          ...CONTEXT_SLOTS,
          ...ctx,
          req: ctx.extra.request,
          connection: ctx.extra.connection,
          [DIRECT_SINK]: new SocketSink(ctx.extra.socket, id),
          socket: ctx.extra.socket,
          params: payload,
        } as EdgeContext & { [DIRECT_SINK]: DirectSink };
        const enveloped: Enveloped = yoga.getEnveloped(initial);
        const { schema, execute, subscribe, parse, validate, contextFactory } = enveloped;
        // The same envelop pipeline as HTTP: graphql-armor's limits throw from parse and validate, and a
        // thrown error must answer this one subscription (an `error` message), as HTTP answers its request,
        // instead of closing the whole socket with 4500.
        let document: DocumentNode;
        try {
          document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: EnvelopedArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          enveloped: { execute, subscribe },
        };
        // Counted until graphql-ws completes it (either side) or the socket closes, whichever comes first.
        if (options.metrics && getOperationAST(document, payload.operationName)?.operation === OperationTypeNode.SUBSCRIPTION)
          (ctx.extra.open ??= new Map()).set(id, options.metrics.subscriptionOpened('graphql-ws'));
        return args;
      },
    },
    wss,
  );

  return {
    close() {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      return new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * The keys of a graphql-ws operation's context besides the edge's own, declared up front (see onSubscribe):
 * typed as every key of GraphQLContext, so a key added there and missing here fails to compile.
 */
const CONTEXT_SLOTS: Record<keyof GraphQLContext, undefined> & SlowSubscriberContext = {
  db: undefined,
  sql: undefined,
  generations: undefined,
  caller: undefined,
  server: undefined,
  publicOrigin: undefined,
  limitMutation: undefined,
  videoPath: undefined,
  uploads: undefined,
  eventLoader: undefined,
  webhooks: undefined,
  [END_SLOW_SUBSCRIBER]: undefined,
};

// Past this much unsent data a slow client's frames wait for the socket, instead of piling up in memory: a
// socket holds at most this plus one frame per subscription (graphql-ws' own sends wait for each write too).
// While a subscription waits here it takes no events, so one whose client never drains overflows its bounded
// buffer and is ended with close(4429) (see generations/subscriptions.ts and cohort.ts).
const SLOW_CLIENT_BYTES = 1024 * 1024;

/** Headers cannot be set on a WebSocket operation's answer (the mutation rate limit's, for one). */
const ignoreHeader = () => {};

/** The operation's envelop pipeline, taken off its arguments (which graphql-ws keeps until the operation ends). */
function released(args: ExecutionArgs): Pick<Enveloped, 'execute' | 'subscribe'> {
  const enveloped = (args as EnvelopedArgs).enveloped;
  if (!enveloped) throw new Error('graphql-ws ran an operation twice');
  (args as EnvelopedArgs).enveloped = undefined;
  return enveloped;
}

/**
 * Lets cohort execution write a subscription's `next` frames to its socket itself (see cohort.ts). A class, so
 * an open subscription holds one small object (its methods are shared), not a closure per method.
 */
class SocketSink implements DirectSink {
  readonly prefix: string;
  private readonly socket: WebSocket;

  constructor(socket: WebSocket, id: string) {
    this.socket = socket;
    this.prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  open() {
    return this.socket.readyState === this.socket.OPEN;
  }

  close(code: number, reason: string) {
    const socket = this.socket;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
  }

  send(frame: Buffer): void | Promise<void> {
    const socket = this.socket;
    if (socket.bufferedAmount < SLOW_CLIENT_BYTES) return socket.send(frame, { binary: false });
    return new Promise<void>((resolve) => socket.send(frame, { binary: false }, () => resolve()));
  }
}
