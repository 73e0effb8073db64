// Hand-written graphql-transport-ws server, not graphql-ws' useServer: an open subscription is one small record and
// a socket another, with one keep-alive sweep for all sockets (memory and cycle rate, BENCHMARKS.md M3 and M7).
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  GraphQLError,
  OperationTypeNode,
  getOperationAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/index.ts';
import { authenticateSocket, type Connection, type EdgeContext } from './authentication.ts';
import { DIRECT_SINK, type DirectSink } from './cohort.ts';
import type { ConnectionRegistry } from './connections.ts';
import type { Gate } from './gate.ts';
import { refuseUpgrade } from './refusals.ts';
import { observeWebSockets } from './request-context.ts';
import {
  CLOSE,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  SUBSCRIBER_EXISTS,
  chooseProtocol,
  parseClientMessage,
  type SubscribePayload,
} from './ws-protocol.ts';
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
  /** The largest message a client may send (MAX_BODY_BYTES, as for HTTP bodies); larger ones close the socket with 1009. */
  maxMessageBytes?: number;
  /** How often each socket is pinged; one that has not answered the previous ping by then is dropped. */
  keepAliveMs?: number;
}

export interface GraphqlWs {
  /** Closes every socket with 1001 "going away" (graphql-ws clients reconnect, to the next instance). */
  close(): Promise<void>;
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

// graphql-ws' defaults, which its clients are built around.
const CONNECTION_INIT_WAIT_MS = 3_000;
const KEEP_ALIVE_MS = 12_000;
// The keep-alive sweep pings one slice of the sockets per tick, a tick this often: the pings (and their pongs) are
// spread as evenly as a timer per socket would spread them, without a timer per socket.
const KEEP_ALIVE_TICK_MS = 25;

/**
 * graphql-ws on the GraphQL path of the same port. Upgrades pass the gate (Host, Origin) first; connection_init
 * must carry a valid key when the server needs one (refused: close 4403); every operation then builds its
 * context through the same Yoga pipeline and contextFactory as HTTP and SSE.
 */
export function attachGraphqlWs(options: GraphqlWsOptions): GraphqlWs {
  const { logger } = options;
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: chooseProtocol,
    maxPayload: options.maxMessageBytes ?? 1024 * 1024,
  });
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

  const sliceCount = Math.max(1, Math.round((options.keepAliveMs ?? KEEP_ALIVE_MS) / KEEP_ALIVE_TICK_MS));
  const slices = Array.from({ length: sliceCount }, () => new Set<SocketConnection>());
  let nextSlice = 0;
  let sweptSlice = 0;
  const keepAlive = setInterval(() => {
    for (const connection of slices[sweptSlice]) connection.keepAlive();
    sweptSlice = (sweptSlice + 1) % sliceCount;
  }, KEEP_ALIVE_TICK_MS);
  keepAlive.unref();

  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    // An 'error' listener first: ws reports a bad frame (or one past maxPayload) as an error and closes the socket
    // itself (1002, 1007, 1009); without a listener the error would take the process down.
    socket.on('error', (error) => logger.warn(`WebSocket error: ${errorMessage(error)}`));
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      socket.close(CLOSE.subprotocolNotAcceptable.code, CLOSE.subprotocolNotAcceptable.reason);
      return;
    }
    const slice = slices[nextSlice];
    nextSlice = (nextSlice + 1) % sliceCount;
    const connection = new SocketConnection(options, socket, req);
    slice.add(connection);
    socket.once('close', () => {
      slice.delete(connection);
      connection.closed();
    });
  });

  return {
    close() {
      clearInterval(keepAlive);
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      return new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/**
 * One socket: its protocol state, its key once authenticated, and its running operations by id. Messages are
 * handled as they come, each on its own (a subscribe that is still being set up does not hold up a ping).
 */
class SocketConnection {
  private readonly options: GraphqlWsOptions;
  private readonly socket: WebSocket;
  /** The upgrade request's Authorization header, kept until connection_init (the key may come from either). */
  private authorization: string | undefined;
  /** What every operation's context gets of the upgrade request: its Host header (see context.ts). */
  private readonly request: EdgeContext['req'];
  private initReceived = false;
  private connection: Connection | null = null;
  private release: (() => void) | null = null;
  private initWait: NodeJS.Timeout | null;
  private readonly operations = new Map<string, Operation>();
  private ended = false;
  /** False from a keep-alive ping until its pong. */
  private alive = true;

  constructor(options: GraphqlWsOptions, socket: WebSocket, request: IncomingMessage) {
    this.options = options;
    this.socket = socket;
    this.authorization = request.headers.authorization;
    this.request = { headers: { host: request.headers.host } };
    this.initWait = setTimeout(() => {
      this.initWait = null;
      if (!this.initReceived) this.close(CLOSE.initialisationTimeout);
    }, CONNECTION_INIT_WAIT_MS);
    socket.on('message', (data: RawData) => this.received(data));
    socket.on('pong', () => (this.alive = true));
  }

  /** One keep-alive round: drops the socket if its last ping went unanswered, else pings it. */
  keepAlive() {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (!this.alive) {
      this.socket.terminate();
      return;
    }
    this.alive = false;
    this.socket.ping();
  }

  /** The socket closed (either side): every running operation ends, and the key is let go. */
  closed() {
    this.ended = true;
    if (this.initWait) clearTimeout(this.initWait);
    this.initWait = null;
    for (const operation of this.operations.values()) operation.stop();
    this.operations.clear();
    this.release?.();
    this.release = null;
  }

  close(close: { code: number; reason: string }) {
    const socket = this.socket;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(close.code, close.reason);
  }

  send(text: string) {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(text, { binary: false });
  }

  /**
   * Sends a frame and calls `then` when the socket can take more: at once, or, while the client is slow to read
   * (SLOW_CLIENT_BYTES or more unsent), once this frame has been handed to the network.
   */
  sendThen(text: string, then: () => void) {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount < SLOW_CLIENT_BYTES) {
      socket.send(text, { binary: false });
      then();
    } else socket.send(text, { binary: false }, () => then());
  }

  /** The operation ended (by the server, with its last message sent): its id is free again. */
  finished(operation: Operation) {
    if (this.operations.get(operation.id) === operation) this.operations.delete(operation.id);
  }

  private received(data: RawData) {
    const message = parseClientMessage(textOf(data));
    if (message === null) return this.close(CLOSE.badRequest);
    switch (message.type) {
      case 'connection_init':
        return this.guard(this.init(message.payload ?? undefined));
      case 'ping':
        return this.send(message.payload ? JSON.stringify({ type: 'pong', payload: message.payload }) : '{"type":"pong"}');
      case 'pong':
        return;
      case 'subscribe':
        return this.guard(this.subscribe(message.id, message.payload));
      case 'complete': {
        const operation = this.operations.get(message.id);
        this.operations.delete(message.id);
        operation?.stop();
        return;
      }
    }
  }

  /** A failure of our own while handling a message: logged, and the socket closed with 4500 (nothing else said). */
  private guard(work: Promise<void>) {
    work.catch((error: unknown) => {
      this.options.logger.error(`graphql-ws message failed: ${errorMessage(error)}`);
      this.close(CLOSE.internalServerError);
    });
  }

  private async init(params: Record<string, unknown> | undefined) {
    if (this.initReceived) return this.close(CLOSE.tooManyInitialisations);
    this.initReceived = true;
    if (this.initWait) clearTimeout(this.initWait);
    this.initWait = null;
    const authorization = this.authorization;
    this.authorization = undefined;
    const held = await authenticateSocket(this.options, params, authorization, () =>
      this.close({ code: CLOSE.forbidden.code, reason: 'Forbidden: API key revoked' }),
    );
    if (!held) return this.close(CLOSE.forbidden);
    // Closed while the key was checked: nothing may hold it.
    if (this.ended) return held.release();
    this.release = held.release;
    this.connection = { identity: held.identity, setHeader: ignoreHeader };
    this.send('{"type":"connection_ack"}');
  }

  private async subscribe(id: string, payload: SubscribePayload) {
    const connection = this.connection;
    if (connection === null) return this.close(CLOSE.unauthorized);
    if (this.operations.has(id)) return this.close({ code: SUBSCRIBER_EXISTS, reason: `Subscriber for ${id} already exists` });
    const operation = new Operation(this, id);
    this.operations.set(id, operation);
    // Every key the context will ever have is in this literal (CONTEXT_SLOTS: the contextFactory's own, set by
    // Yoga's Object.assign, and the slow-subscriber end cohort.ts adds). Added one by one instead, past the
    // twelfth V8 turns the object into a hash table (about 1.6 KB instead of 0.2 KB), and every open
    // subscription keeps its context (envelop's subscribe closure holds it until the subscription ends).
    const initial: EdgeContext & { [DIRECT_SINK]: DirectSink } = {
      ...CONTEXT_SLOTS,
      req: this.request,
      connection,
      [DIRECT_SINK]: new SocketSink(this.socket, id),
      params: payload,
    } as EdgeContext & { [DIRECT_SINK]: DirectSink };
    const enveloped: Enveloped = this.options.yoga.getEnveloped(initial);
    const { schema, parse, validate, contextFactory } = enveloped;
    // The same envelop pipeline as HTTP: graphql-armor's limits throw from parse and validate, and a thrown
    // error must answer this one operation (an `error` message), as HTTP answers its request.
    let document: DocumentNode;
    try {
      document = parse(payload.query);
      const errors = validate(schema, document);
      if (errors.length > 0) return operation.fail(errors);
    } catch (error) {
      if (error instanceof GraphQLError) return operation.fail([error]);
      throw error;
    }
    const kind = getOperationAST(document, payload.operationName)?.operation;
    if (kind === undefined) return operation.fail([new GraphQLError('Unable to identify operation')]);
    const args: ExecutionArgs = {
      schema,
      operationName: payload.operationName,
      document,
      variableValues: payload.variables,
      contextValue: await contextFactory(),
    };
    if (operation.stopped) return;
    // Counted until it ends, whichever side ends it.
    if (kind === OperationTypeNode.SUBSCRIPTION) operation.counted(this.options.metrics?.subscriptionOpened('graphql-ws'));
    const outcome = await (kind === OperationTypeNode.SUBSCRIPTION ? enveloped.subscribe(args) : enveloped.execute(args));
    operation.started(outcome as ExecutionResult | AsyncIterable<ExecutionResult>);
  }
}

/**
 * One running operation: a query or mutation until its one result is sent, a subscription until its stream ends,
 * the client completes it or the socket closes. Its stream is pulled one result at a time (cohort.ts' writer
 * sends most frames itself and yields only what must go this way: results with errors or extensions).
 */
class Operation {
  readonly id: string;
  private readonly owner: SocketConnection;
  private iterator: AsyncIterator<ExecutionResult> | null = null;
  private uncount: (() => void) | null = null;
  /** Set once it ended, either side: nothing more is sent for it. */
  stopped = false;

  constructor(owner: SocketConnection, id: string) {
    this.owner = owner;
    this.id = id;
  }

  counted(uncount: (() => void) | undefined) {
    this.uncount = uncount ?? null;
  }

  /** The execution's outcome: one result (sent, then `complete`), or a stream to pull. */
  started(outcome: ExecutionResult | AsyncIterable<ExecutionResult>) {
    if (!isAsyncIterable(outcome)) {
      if (this.stopped) return;
      this.owner.send(this.frame('next', outcome));
      return this.end(true);
    }
    this.iterator = outcome[Symbol.asyncIterator]();
    if (this.stopped) return this.closeStream();
    this.pull();
  }

  /** Errors instead of a result (the document did not parse or validate): an `error` message, and no `complete`. */
  fail(errors: readonly GraphQLError[]) {
    if (this.stopped) return;
    this.owner.send(this.frame('error', errors));
    this.end(false);
  }

  /** Ended by the client (complete) or the socket closing: the stream is ended, and nothing more is sent. */
  stop() {
    if (this.stopped) return;
    this.stopped = true;
    this.uncounted();
    this.closeStream();
  }

  private pull() {
    let step: Promise<IteratorResult<ExecutionResult>>;
    try {
      step = this.iterator!.next();
    } catch (error) {
      return this.failed(error);
    }
    step.then(
      (result) => this.stepped(result),
      (error: unknown) => this.failed(error),
    );
  }

  private stepped(step: IteratorResult<ExecutionResult>) {
    if (this.stopped) return;
    if (step.done) return this.end(true);
    // The next result waits while the client is slow to read (it stays in the stream's bounded buffer).
    this.owner.sendThen(this.frame('next', step.value), () => {
      if (!this.stopped) this.pull();
    });
  }

  /**
   * The stream threw. Yoga masks what it lets through (an unexpected error reads "Unexpected error."); anything
   * that is not a GraphQLError is masked here too, so no internal message reaches the client.
   */
  private failed(error: unknown) {
    if (this.stopped) return;
    const shown = error instanceof GraphQLError ? error : new GraphQLError('Unexpected error.');
    this.owner.send(this.frame('error', [shown]));
    this.end(false);
  }

  /** Ended by the server: `complete` is sent after a result or stream, never after an `error`. */
  private end(complete: boolean) {
    this.stopped = true;
    this.uncounted();
    this.owner.finished(this);
    if (complete) this.owner.send(`{"id":${JSON.stringify(this.id)},"type":"complete"}`);
  }

  private uncounted() {
    const uncount = this.uncount;
    this.uncount = null;
    uncount?.();
  }

  private closeStream() {
    const iterator = this.iterator;
    this.iterator = null;
    // Whatever the stream's return() says, the operation is over: a failure there is nobody's to answer.
    void iterator?.return?.()?.catch(() => {});
  }

  private frame(type: 'next' | 'error', payload: unknown): string {
    return JSON.stringify({ id: this.id, type, payload });
  }
}

/**
 * The keys of an operation's context besides the edge's own, declared up front (see subscribe()): typed as every
 * key of GraphQLContext, so a key added there and missing here fails to compile.
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
// socket holds at most this plus one frame per subscription. While a subscription waits here it takes no
// events, so one whose client never drains overflows its bounded buffer and is ended with close(4429) (see
// generations/subscriptions.ts and cohort.ts).
const SLOW_CLIENT_BYTES = 1024 * 1024;

/** Headers cannot be set on a WebSocket operation's answer (the mutation rate limit's, for one). */
const ignoreHeader = () => {};

/** A message's text, whether the client sent it as a text or a binary frame (graphql-ws takes either). */
function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

function isAsyncIterable(value: unknown): value is AsyncIterable<ExecutionResult> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
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
