import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiKey, revokeApiKey } from '../../src/auth/keys.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { IMAGE } from '../helpers/generation.ts';
import { bearer, EVENTS_SUBSCRIPTION, GENERATE, gql } from '../helpers/graphql.ts';
import { scrape } from '../helpers/metrics.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { until } from '../helpers/until.ts';

/**
 * The WebSocket transport at the GraphQL path, on the wire: the graphql-transport-ws protocol
 * (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) exactly as the server speaks it today, close
 * codes, close reasons and message shapes included. Observed with a raw `ws` client, never a graphql-ws client,
 * so nothing is smoothed over. Written against graphql-ws' own server (6.4.2) before src/http/graphql-ws.ts
 * replaced it, and passed by both, but for one deliberate difference: a message only a server sends, sent by a
 * client, is a bad request (4400), where graphql-ws closed with 4500 as if the fault were its own.
 */

const PROTOCOL = 'graphql-transport-ws';
const INFO = '{ serverInfo { falBackend } }';
const INFO_RESULT = { data: { serverInfo: { falBackend: 'SIMULATOR' } } };
const UPDATED = 'subscription { videoGenerationUpdated { id status } }';

interface Frame {
  text: string;
  binary: boolean;
  /** The frame's JSON, or undefined when it is not JSON. */
  message: any;
}

interface Closed {
  code: number;
  reason: string;
}

/** A raw WebSocket client that records every frame the server sends, and how the socket ended. */
class Peer {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;
  /** The client-side error, if the handshake or the socket failed (ws emits it before close). */
  error: Error | null = null;
  closedWith: Closed | null = null;
  private readonly events = new EventEmitter();
  private pings = 0;

  constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    this.socket = new WebSocket(url, protocols, options);
    this.socket.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      let message: unknown;
      try {
        message = JSON.parse(text);
      } catch {
        message = undefined;
      }
      this.frames.push({ text, binary: isBinary, message });
      this.events.emit('change');
    });
    this.socket.on('error', (error) => {
      this.error = error;
    });
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('close', () => reject(new Error(`the socket closed before it opened (${this.error?.message ?? 'no error'})`)));
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => {
      this.socket.once('close', (code: number, reason: Buffer) => {
        this.closedWith = { code, reason: reason.toString('utf8') };
        this.events.emit('change');
        resolve(this.closedWith);
      });
    });
  }

  /** Sends a message: an object as JSON, a string as is; as a text frame unless `binary`. */
  send(message: unknown, options: { binary?: boolean } = {}) {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this.socket.send(options.binary ? Buffer.from(text, 'utf8') : text, { binary: options.binary ?? false });
  }

  /**
   * Sends the messages in one TCP write, so the server reads them in one chunk and handles them one after the other
   * at once: the second arrives while the first is still being handled (connection_init's authentication, say).
   */
  sendTogether(...messages: unknown[]) {
    const tcp = (this.socket as unknown as { _socket: Socket })._socket;
    tcp.cork();
    for (const message of messages) this.send(message);
    tcp.uncork();
  }

  /** The parsed messages received so far (from index `from`). */
  messages(from = 0): any[] {
    return this.frames.slice(from).map((frame) => frame.message);
  }

  /** The messages for one operation id, in order. */
  forId(id: string, from = 0): any[] {
    return this.messages(from).filter((message) => message?.id === id);
  }

  /** Resolves with the index of the first frame from `from` on whose message matches; rejects if the socket closes first. */
  waitFor(what: string, predicate: (message: any) => boolean, from = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.frames.findIndex((frame, i) => i >= from && predicate(frame.message));
        if (index >= 0) {
          this.events.off('change', check);
          resolve(index);
        } else if (this.closedWith) {
          this.events.off('change', check);
          const { code, reason } = this.closedWith;
          reject(new Error(`the socket closed (${code} ${reason}) before ${what}; received ${JSON.stringify(this.messages(from))}`));
        }
      };
      this.events.on('change', check);
      check();
    });
  }

  /** connection_init (with the test key unless other params are given), then waits for connection_ack. */
  async init(payload: unknown = { authorization: `Bearer ${apiKey}` }): Promise<number> {
    await this.opened;
    const from = this.frames.length;
    this.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload });
    return this.waitFor('connection_ack', (m) => m?.type === 'connection_ack', from);
  }

  /**
   * A round trip: a ping with a payload of its own, then its pong. Every frame the server sent before it handled
   * the ping is in `frames` once this resolves (one socket, in order). Returns the pong's index.
   */
  async barrier(): Promise<number> {
    const marker = `barrier-${++this.pings}`;
    this.send({ type: 'ping', payload: { marker } });
    return this.waitFor(`the pong for ${marker}`, (m) => m?.type === 'pong' && m.payload?.marker === marker);
  }

  subscribe(id: string, query: string, variables?: Record<string, unknown>, options: { binary?: boolean } = {}) {
    this.send({ id, type: 'subscribe', payload: variables ? { query, variables } : { query } }, options);
  }

  /** Waits for the server's `complete` for this id (failing on an `error` for it), and returns the messages for the id. */
  async completed(id: string, from = 0): Promise<any[]> {
    await this.waitFor(`complete for ${id}`, (m) => m?.id === id && (m.type === 'complete' || m.type === 'error'), from);
    return this.forId(id, from);
  }
}

let server: TestServer;
let wsUrl: string;
let apiKey: string;
const peers: Peer[] = [];

function peer(protocols: string | string[] | undefined = PROTOCOL, options?: WebSocket.ClientOptions): Peer {
  const p = new Peer(wsUrl, protocols, options);
  peers.push(p);
  return p;
}

/** A peer that is connected and acknowledged. */
async function ready(): Promise<Peer> {
  const p = peer();
  await p.init();
  return p;
}

const active = async () => (await scrape(server)).value('reelgraph_subscriptions_active', { transport: 'graphql-ws' }) ?? 0;
/** Waits until the server counts exactly `n` open graphql-ws subscriptions. */
const activeIs = (n: number) => until(`${n} open graphql-ws subscriptions`, async () => (await active()) === n, { intervalMs: 20 });

/** A generation of the test key's tenant. The simulator holds every generation before COMPLETED (until resume). */
async function generate(): Promise<{ id: string; falRequestId: string }> {
  const result = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'a cat walks' } }, bearer(apiKey));
  expect(result.errors).toBeUndefined();
  expect(result.data.generateVideo.__typename).toBe('GenerateVideoSuccess');
  return result.data.generateVideo.generation;
}

/** Waits until a held generation has reached the pause (IN_PROGRESS, every log line recorded): its event log stops growing. */
async function paused(falRequestId: string): Promise<{ id: string; events: number }> {
  const db = server.running.database.prisma;
  return until(`generation ${falRequestId} to be held before COMPLETED`, async () => {
    const simulated = server.sim.requests.get(falRequestId);
    if (simulated?.status !== 'IN_PROGRESS' || simulated.logs.length !== simulated.behaviour.logCount) return null;
    const row = await db.generation.findUnique({ where: { falRequestId } });
    if (row?.status !== 'IN_PROGRESS') return null;
    const logs = await db.generationEvent.count({ where: { generationId: row.id, kind: 'LOG' } });
    if (logs !== simulated.logs.length) return null;
    return { id: row.id, events: await db.generationEvent.count({ where: { generationId: row.id } }) };
  });
}

beforeAll(async () => {
  server = await startTestServer({ behaviour: { pauseBefore: 'COMPLETED', logCount: 3 }, env: { AUTH_RECHECK_MS: '100' } });
  wsUrl = server.url.replace(/^http/, 'ws');
  // Keys are required from the first key on: every socket authenticates at connection_init.
  apiKey = registerSecret((await createApiKey(server.running.database.prisma, { tenantId: 'acme', name: 'ws-protocol' })).key);
}, 60_000);

afterEach(async () => {
  const done = peers.splice(0);
  await Promise.all(
    done.map((p) => {
      if (!p.closedWith) p.socket.terminate();
      return p.closed;
    }),
  );
  // Whatever a test was about, every frame the server sent was a text frame.
  for (const p of done) expect(p.frames.filter((frame) => frame.binary)).toEqual([]);
});

afterAll(() => server?.dispose());

describe('handshake and subprotocol', () => {
  it('no subprotocol offered: the socket opens, then the server closes it with 4406 "Subprotocol not acceptable"', async () => {
    const p = peer([]);
    await p.opened;
    expect(p.socket.protocol).toBe('');
    expect(await p.closed).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
    expect(p.frames).toEqual([]);
  });

  it('only an unknown (or the deprecated graphql-ws) subprotocol: the server selects none, so the client aborts the handshake', async () => {
    for (const protocol of ['graphql-unknown', 'graphql-ws']) {
      const p = peer(protocol);
      // The upgrade succeeds (101) without a Sec-WebSocket-Protocol header; RFC 6455 has the client fail it.
      expect(await p.closed, protocol).toEqual({ code: 1006, reason: '' });
      expect(p.error?.message, protocol).toBe('Server sent no subprotocol');
      expect(p.frames, protocol).toEqual([]);
    }
  });

  it('graphql-transport-ws among other subprotocols is the one selected', async () => {
    const p = peer(['graphql-unknown', PROTOCOL, 'graphql-ws']);
    await p.opened;
    expect(p.socket.protocol).toBe(PROTOCOL);
    await p.init();
  });

  it('connection_ack is exactly {"type":"connection_ack"}: no payload key', async () => {
    const p = await ready();
    expect(p.frames.map((f) => f.text)).toEqual(['{"type":"connection_ack"}']);
  });

  it('connection_init with a null, empty or absent payload is accepted (the key then comes from the upgrade request)', async () => {
    for (const payload of [null, {}, undefined]) {
      const p = peer(PROTOCOL, { headers: bearer(apiKey) });
      await p.init(payload);
      expect(p.frames.map((f) => f.text)).toEqual(['{"type":"connection_ack"}']);
    }
  });

  it('no connection_init within 3 s: close 4408 "Connection initialisation timeout"; a ping meanwhile is answered and does not count', async () => {
    const started = performance.now();
    const p = peer();
    await p.opened;
    p.send({ type: 'ping' });
    await p.waitFor('pong', (m) => m?.type === 'pong');
    expect(await p.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    // The server's 3 s start after `started` (at its end of the upgrade): a lower bound only, with timer slack.
    expect(performance.now() - started).toBeGreaterThan(2_900);
    expect(p.messages()).toEqual([{ type: 'pong' }]);
  });

  it('a second connection_init after the ack: close 4429 "Too many initialisation requests"', async () => {
    const p = await ready();
    p.send({ type: 'connection_init', payload: { authorization: `Bearer ${apiKey}` } });
    expect(await p.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
    expect(p.messages()).toEqual([{ type: 'connection_ack' }]);
  });

  it('a second connection_init while the first is still being authenticated: 4429, and the ack is never sent', async () => {
    const p = peer();
    await p.opened;
    const init = { type: 'connection_init', payload: { authorization: `Bearer ${apiKey}` } };
    p.sendTogether(init, init);
    expect(await p.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
    expect(p.frames).toEqual([]);
  });
});

describe('authentication at connection_init (keys required)', () => {
  it('a missing, malformed or wrong key: close 4403 "Forbidden", no ack', async () => {
    const cases: Array<[string, unknown]> = [
      ['no payload', undefined],
      ['empty payload', {}],
      ['unknown key', { authorization: 'Bearer rg_not-a-real-key-000000000000000000000000000000000' }],
      ['altered key', { authorization: `Bearer ${apiKey}x` }],
      ['not Bearer', { authorization: 'Basic dXNlcjpwYXNz' }],
      ['Bearer alone', { authorization: 'Bearer' }],
      ['key not a string', { authorization: 42 }],
    ];
    for (const [name, payload] of cases) {
      const p = peer();
      await p.opened;
      p.send(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload });
      expect(await p.closed, name).toEqual({ code: 4403, reason: 'Forbidden' });
      expect(p.frames, name).toEqual([]);
    }
  });

  it('the key may come as connectionParams.authorization or .Authorization, or in the upgrade request; connectionParams win', async () => {
    await peer().init({ authorization: `Bearer ${apiKey}` });
    await peer().init({ Authorization: `Bearer ${apiKey}` });
    await peer(PROTOCOL, { headers: bearer(apiKey) }).init({});
    const p = peer(PROTOCOL, { headers: bearer(apiKey) });
    await p.opened;
    p.send({ type: 'connection_init', payload: { authorization: 'Bearer rg_wrong' } });
    expect(await p.closed).toEqual({ code: 4403, reason: 'Forbidden' });
  });

  it('a key revoked while its socket is open: close 4403 "Forbidden: API key revoked"', async () => {
    const db = server.running.database.prisma;
    const { key, info } = await createApiKey(db, { tenantId: 'acme', name: 'ws-revoked' });
    registerSecret(key);
    const p = peer();
    await p.init({ authorization: `Bearer ${key}` });
    p.subscribe('s', UPDATED);
    await revokeApiKey(db, info.id);
    expect(await p.closed).toEqual({ code: 4403, reason: 'Forbidden: API key revoked' });
  });
});

describe('invalid messages', () => {
  const INVALID: Array<[string, string]> = [
    ['invalid JSON', '{"type":"ping"'],
    ['not JSON at all', 'hello'],
    ['an empty frame', ''],
    ['a JSON array', '[{"type":"ping"}]'],
    ['a JSON number', '42'],
    ['a JSON string', '"ping"'],
    ['JSON null', 'null'],
    ['no type', '{"payload":{}}'],
    ['a non-string type', '{"type":1}'],
    ['an empty type', '{"type":""}'],
    ['an unknown type', '{"type":"start","id":"1","payload":{"query":"{ __typename }"}}'],
    ['a subscriptions-transport-ws type', '{"type":"connection_terminate"}'],
    ['a type in another case', '{"type":"PING"}'],
    ['a ping with a string payload', '{"type":"ping","payload":"x"}'],
    ['a ping with an array payload', '{"type":"ping","payload":[1]}'],
    ['a pong with a number payload', '{"type":"pong","payload":1}'],
    ['a connection_init with a string payload', '{"type":"connection_init","payload":"x"}'],
    ['subscribe without id', JSON.stringify({ type: 'subscribe', payload: { query: INFO } })],
    ['subscribe with an empty id', JSON.stringify({ id: '', type: 'subscribe', payload: { query: INFO } })],
    ['subscribe with a numeric id', JSON.stringify({ id: 1, type: 'subscribe', payload: { query: INFO } })],
    ['subscribe without payload', JSON.stringify({ id: '1', type: 'subscribe' })],
    ['subscribe with an array payload', JSON.stringify({ id: '1', type: 'subscribe', payload: [INFO] })],
    ['subscribe without query', JSON.stringify({ id: '1', type: 'subscribe', payload: {} })],
    ['subscribe with a numeric query', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 1 } })],
    ['subscribe with a query object', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: { kind: 'Document' } } })],
    ['subscribe with array variables', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: INFO, variables: [] } })],
    ['subscribe with string variables', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: INFO, variables: '{}' } })],
    ['subscribe with a numeric operationName', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: INFO, operationName: 1 } })],
    ['subscribe with string extensions', JSON.stringify({ id: '1', type: 'subscribe', payload: { query: INFO, extensions: 'x' } })],
    ['complete without id', '{"type":"complete"}'],
    ['complete with an empty id', '{"type":"complete","id":""}'],
    ['complete with a numeric id', '{"type":"complete","id":1}'],
  ];

  it('after the ack: close 4400 "Invalid message received", nothing sent', async () => {
    for (const [name, text] of INVALID) {
      const p = await ready();
      p.send(text);
      expect(await p.closed, name).toEqual({ code: 4400, reason: 'Invalid message received' });
      expect(p.messages(), name).toEqual([{ type: 'connection_ack' }]);
    }
  });

  it('before connection_init: the same 4400', async () => {
    for (const [name, text] of INVALID) {
      const p = peer();
      await p.opened;
      p.send(text);
      expect(await p.closed, name).toEqual({ code: 4400, reason: 'Invalid message received' });
      expect(p.frames, name).toEqual([]);
    }
  });

  it('null or absent optional fields are valid: subscribe with null variables, operationName and extensions runs', async () => {
    const p = await ready();
    p.send({ id: 'n', type: 'subscribe', payload: { query: INFO, variables: null, operationName: null, extensions: null } });
    expect(await p.completed('n')).toEqual([
      { id: 'n', type: 'next', payload: INFO_RESULT },
      { id: 'n', type: 'complete' },
    ]);
  });

  it('a well-formed message of a type only the server sends (connection_ack, next, error): close 4400', async () => {
    const cases: Array<[string, unknown]> = [
      ['connection_ack', { type: 'connection_ack' }],
      ['next', { id: '1', type: 'next', payload: { data: {} } }],
      ['error', { id: '1', type: 'error', payload: [{ message: 'x' }] }],
    ];
    for (const [type, message] of cases) {
      const p = await ready();
      p.send(message);
      // The client's fault, so a bad request. (graphql-ws' own server validates these as messages, then has no case
      // for them and closes with 4500 and its internal error's message, as if the fault were its own.)
      expect(await p.closed, type).toEqual({ code: 4400, reason: 'Invalid message received' });
      expect(p.messages(), type).toEqual([{ type: 'connection_ack' }]);
    }
  });
});

describe('operations before the ack', () => {
  it('subscribe before connection_init: close 4401 "Unauthorized"', async () => {
    const p = peer();
    await p.opened;
    p.subscribe('1', INFO);
    expect(await p.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
    expect(p.frames).toEqual([]);
  });

  it('subscribe right after connection_init, before its ack: close 4401 "Unauthorized", and the ack is never sent', async () => {
    const p = peer();
    await p.opened;
    p.sendTogether(
      { type: 'connection_init', payload: { authorization: `Bearer ${apiKey}` } },
      { id: '1', type: 'subscribe', payload: { query: INFO } },
    );
    expect(await p.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
    expect(p.frames).toEqual([]);
  });

  it('complete before connection_init is ignored; the connection can still be initialised', async () => {
    const p = peer();
    await p.opened;
    p.send({ id: '1', type: 'complete' });
    expect(await p.barrier()).toBe(0);
    await p.init();
    expect(p.messages()).toEqual([{ type: 'pong', payload: { marker: 'barrier-1' } }, { type: 'connection_ack' }]);
  });
});

describe('ping and pong', () => {
  it('ping is answered with pong, echoing the payload when there is one; without a payload key when not', async () => {
    const p = await ready();
    const cases: Array<[unknown, string]> = [
      [{ type: 'ping' }, '{"type":"pong"}'],
      [{ type: 'ping', payload: null }, '{"type":"pong"}'],
      [{ type: 'ping', payload: { a: 1, nested: { b: [1, 'two'] } } }, '{"type":"pong","payload":{"a":1,"nested":{"b":[1,"two"]}}}'],
      [{ type: 'ping', payload: {} }, '{"type":"pong","payload":{}}'],
    ];
    for (const [ping, pong] of cases) {
      const from = p.frames.length;
      p.send(ping);
      await p.waitFor('pong', (m) => m?.type === 'pong', from);
      expect(p.frames.slice(from).map((f) => f.text)).toEqual([pong]);
    }
  });

  it('a pong from the client is ignored: nothing comes back, the socket stays open', async () => {
    const p = await ready();
    const from = p.frames.length;
    p.send({ type: 'pong' });
    p.send({ type: 'pong', payload: { x: 1 } });
    p.send({ type: 'pong', payload: null });
    expect(await p.barrier()).toBe(from);
    expect(p.closedWith).toBeNull();
  });
});

describe('queries and mutations', () => {
  it('a query: one next, then complete, with the same id; the id can then be used again', async () => {
    const p = await ready();
    for (let i = 0; i < 2; i++) {
      const from = p.frames.length;
      p.subscribe('q1', INFO);
      expect(await p.completed('q1', from)).toEqual([
        { id: 'q1', type: 'next', payload: INFO_RESULT },
        { id: 'q1', type: 'complete' },
      ]);
    }
  });

  it('variables and operationName select the operation', async () => {
    const p = await ready();
    p.send({
      id: 'named',
      type: 'subscribe',
      payload: {
        query: 'query A { serverInfo { falBackend } } query B($id: ID!) { videoGeneration(id: $id) { id } }',
        operationName: 'B',
        variables: { id: '00000000-0000-0000-0000-000000000000' },
      },
    });
    expect(await p.completed('named')).toEqual([
      { id: 'named', type: 'next', payload: { data: { videoGeneration: null } } },
      { id: 'named', type: 'complete' },
    ]);
  });

  it('a mutation: one next, then complete', async () => {
    const p = await ready();
    p.subscribe('m1', GENERATE, { input: { imageUrl: IMAGE, prompt: 'over the socket' } });
    const messages = await p.completed('m1');
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatchObject({
      id: 'm1',
      type: 'next',
      payload: { data: { generateVideo: { __typename: 'GenerateVideoSuccess' } } },
    });
    expect(Object.keys(messages[0])).toEqual(['id', 'type', 'payload']);
    expect(Object.keys(messages[0].payload)).toEqual(['data']);
    expect(messages[1]).toEqual({ id: 'm1', type: 'complete' });
  });

  it('an execution error: next with data and errors, then complete', async () => {
    const p = await ready();
    p.subscribe('exec', '{ usage(tenantId: "someone-else") { tenantId } }');
    expect(await p.completed('exec')).toEqual([
      {
        id: 'exec',
        type: 'next',
        payload: {
          data: null,
          errors: [
            {
              message: "Only an admin key can read another tenant's usage",
              locations: [{ line: 1, column: 3 }],
              path: ['usage'],
              extensions: { code: 'FORBIDDEN' },
            },
          ],
        },
      },
      { id: 'exec', type: 'complete' },
    ]);
  });

  it('a syntax error: one error message (an array of GraphQL errors), no complete; the socket stays open', async () => {
    const p = await ready();
    p.subscribe('bad', '{ serverInfo {');
    await p.completed('bad');
    await p.barrier();
    expect(p.forId('bad')).toEqual([
      {
        id: 'bad',
        type: 'error',
        payload: [{ message: 'Syntax Error: Expected Name, found <EOF>.', locations: [{ line: 1, column: 15 }] }],
      },
    ]);
    expect(p.closedWith).toBeNull();
  });

  it('a validation error: one error message, no complete; the socket stays open', async () => {
    const p = await ready();
    p.subscribe('invalid', '{ serverInf { version } }');
    await p.completed('invalid');
    await p.barrier();
    expect(p.forId('invalid')).toEqual([
      {
        id: 'invalid',
        type: 'error',
        payload: [
          {
            // Suggestions are stripped when NODE_ENV=production (test/security/transports.test.ts); the test server is not.
            message: 'Cannot query field "serverInf" on type "Query". Did you mean "serverInfo"?',
            locations: [{ line: 1, column: 3 }],
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { spec: true, status: 400 } },
          },
        ],
      },
    ]);
    expect(p.closedWith).toBeNull();
  });

  it('several operations and no operationName: error "Unable to identify operation", no complete', async () => {
    const p = await ready();
    p.subscribe('two', 'query A { serverInfo { falBackend } } query B { serverInfo { version } }');
    await p.completed('two');
    await p.barrier();
    expect(p.forId('two')).toEqual([{ id: 'two', type: 'error', payload: [{ message: 'Unable to identify operation' }] }]);
  });
});

describe('subscriptions', () => {
  it('next frames in sequence, then complete from the server once the generation reaches its terminal status', async () => {
    const generation = await generate();
    const p = await ready();
    p.subscribe('events', EVENTS_SUBSCRIPTION, { id: generation.id });
    await p.waitFor('a first event', (m) => m?.id === 'events' && m.type === 'next');
    server.sim.resume(generation.falRequestId);
    const messages = await p.completed('events');
    await p.barrier();
    expect(p.forId('events')).toEqual(messages);
    const nexts = messages.slice(0, -1);
    expect(messages.at(-1)).toEqual({ id: 'events', type: 'complete' });
    for (const next of nexts) {
      expect(Object.keys(next)).toEqual(['id', 'type', 'payload']);
      expect(next).toMatchObject({ id: 'events', type: 'next' });
      expect(Object.keys(next.payload)).toEqual(['data']);
    }
    const events = nexts.map((next) => next.payload.data.videoGenerationEvents);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)).toMatchObject({
      __typename: 'VideoGenerationStatusEvent',
      status: 'COMPLETED',
      generation: { id: generation.id },
    });
    expect(events.filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
  });

  it('a subscription whose stream cannot start: next with errors only (no data key), then complete', async () => {
    const p = await ready();
    p.subscribe('nf', EVENTS_SUBSCRIPTION, { id: '00000000-0000-0000-0000-000000000000' });
    expect(await p.completed('nf')).toEqual([
      {
        id: 'nf',
        type: 'next',
        payload: {
          errors: [
            {
              message: 'No video generation with id "00000000-0000-0000-0000-000000000000"',
              locations: [{ line: 3, column: 5 }],
              path: ['videoGenerationEvents'],
              extensions: { code: 'NOT_FOUND' },
            },
          ],
        },
      },
      { id: 'nf', type: 'complete' },
    ]);
  });

  it("the client's complete stops a subscription: no next after it, no complete from the server; other ids go on", async () => {
    const generation = await generate();
    const { events } = await paused(generation.falRequestId);
    const p = await ready();
    const base = await active();
    p.subscribe('a', EVENTS_SUBSCRIPTION, { id: generation.id });
    p.subscribe('b', EVENTS_SUBSCRIPTION, { id: generation.id });
    // Both have replayed everything so far: nothing is in flight for either while the generation is held.
    await p.waitFor('a replayed', () => p.forId('a').length === events);
    await p.waitFor('b replayed', () => p.forId('b').length === events);
    await activeIs(base + 2);

    p.send({ id: 'a', type: 'complete' });
    await activeIs(base + 1);
    // A complete for an id never used, and again for the one just completed: ignored.
    p.send({ id: 'never-used', type: 'complete' });
    p.send({ id: 'a', type: 'complete' });
    server.sim.resume(generation.falRequestId);
    const b = await p.completed('b');
    await p.barrier();
    expect(b.at(-2).payload.data.videoGenerationEvents).toMatchObject({ status: 'COMPLETED' });
    expect(b.length).toBeGreaterThan(events + 1);
    expect(p.forId('a')).toHaveLength(events);
    expect(p.forId('a').every((m) => m.type === 'next')).toBe(true);
    expect(p.messages().filter((m) => m.id === 'never-used')).toEqual([]);
    expect(p.closedWith).toBeNull();
    await activeIs(base);

    // The completed id can be used again.
    const from = p.frames.length;
    p.subscribe('a', INFO);
    expect(await p.completed('a', from)).toEqual([
      { id: 'a', type: 'next', payload: INFO_RESULT },
      { id: 'a', type: 'complete' },
    ]);
  });

  it('subscribe with an id that is still running: close 4409 "Subscriber for <id> already exists"', async () => {
    const p = await ready();
    p.subscribe('dup', UPDATED);
    p.subscribe('dup', INFO);
    expect(await p.closed).toEqual({ code: 4409, reason: 'Subscriber for dup already exists' });
    expect(p.forId('dup')).toEqual([]);
  });

  it('an id whose subscription the client completed can be used again at once', async () => {
    const p = await ready();
    const base = await active();
    p.subscribe('r', UPDATED);
    await activeIs(base + 1);
    p.send({ id: 'r', type: 'complete' });
    await activeIs(base);
    // A dashboard update the server wrote before it took the complete (another test's generation finishing) is
    // the first subscription's, not the second's: the barrier's pong follows it on the socket.
    await p.barrier();
    const from = p.frames.length;
    p.subscribe('r', INFO);
    expect(await p.completed('r', from)).toEqual([
      { id: 'r', type: 'next', payload: INFO_RESULT },
      { id: 'r', type: 'complete' },
    ]);
  });

  it('several subscriptions on one socket: each id gets the frames of its own operation', async () => {
    const generation = await generate();
    const { events } = await paused(generation.falRequestId);
    const p = await ready();
    const base = await active();
    p.subscribe('updated', UPDATED);
    p.subscribe('full', EVENTS_SUBSCRIPTION, { id: generation.id });
    p.subscribe('slim', 'subscription($id: ID!) { videoGenerationEvents(id: $id) { sequence } }', { id: generation.id });
    p.subscribe('tail', 'subscription($id: ID!, $after: Int) { videoGenerationEvents(id: $id, afterSequence: $after) { sequence } }', {
      id: generation.id,
      after: events,
    });
    p.subscribe('info', INFO);
    await p.waitFor('both replays', () => p.forId('full').length === events && p.forId('slim').length === events);
    await activeIs(base + 4);
    server.sim.resume(generation.falRequestId);
    const [full, slim, tail] = await Promise.all([p.completed('full'), p.completed('slim'), p.completed('tail')]);
    await p.waitFor('the COMPLETED update', (m) => m?.id === 'updated' && m.payload?.data?.videoGenerationUpdated?.status === 'COMPLETED');

    expect(p.forId('info')).toEqual([
      { id: 'info', type: 'next', payload: INFO_RESULT },
      { id: 'info', type: 'complete' },
    ]);
    const sequences = (messages: any[]) =>
      messages.filter((m) => m.type === 'next').map((m) => m.payload.data.videoGenerationEvents.sequence as number);
    const total = full.length - 1;
    expect(total).toBeGreaterThan(events);
    expect(sequences(full)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(sequences(slim)).toEqual(sequences(full));
    expect(sequences(tail)).toEqual(sequences(full).slice(events));
    for (const m of slim.slice(0, -1)) expect(Object.keys(m.payload.data.videoGenerationEvents)).toEqual(['sequence']);
    for (const m of full.slice(0, -1))
      expect(m.payload.data.videoGenerationEvents.__typename).toMatch(/^VideoGeneration(Status|Log)Event$/);
    for (const messages of [full, slim, tail]) expect(messages.at(-1).type).toBe('complete');
    expect(p.forId('updated').every((m) => m.type === 'next' && m.payload.data.videoGenerationUpdated.id === generation.id)).toBe(true);
    // Still open: only the updates subscription, which the server never ends.
    await activeIs(base + 1);
  });

  it('closing the socket with subscriptions open releases every one of them on the server', async () => {
    const generation = await generate();
    for (const end of ['close', 'terminate'] as const) {
      const p = await ready();
      const base = await active();
      p.subscribe('u1', UPDATED);
      p.subscribe('u2', UPDATED);
      p.subscribe('e', EVENTS_SUBSCRIPTION, { id: generation.id });
      await p.waitFor('a first event', (m) => m?.id === 'e' && m.type === 'next');
      await activeIs(base + 3);
      if (end === 'close') p.socket.close(1000);
      else p.socket.terminate();
      await p.closed;
      await activeIs(base);
    }
  });
});

describe('frames', () => {
  it('the server sends text frames only; the client may send binary frames, read as UTF-8 text', async () => {
    const p = peer();
    await p.opened;
    p.send({ type: 'connection_init', payload: { authorization: `Bearer ${apiKey}` } }, { binary: true });
    await p.waitFor('connection_ack', (m) => m?.type === 'connection_ack');
    p.send({ type: 'ping', payload: { é: 'ü' } }, { binary: true });
    await p.waitFor('pong', (m) => m?.type === 'pong');
    p.subscribe('bin', INFO, undefined, { binary: true });
    await p.completed('bin');
    const generation = await generate();
    p.subscribe('events', EVENTS_SUBSCRIPTION, { id: generation.id }, { binary: true });
    await p.waitFor('a first event', (m) => m?.id === 'events' && m.type === 'next');
    p.send({ id: 'events', type: 'complete' }, { binary: true });
    await p.barrier();
    expect(p.messages().slice(0, 4)).toEqual([
      { type: 'connection_ack' },
      { type: 'pong', payload: { é: 'ü' } },
      { id: 'bin', type: 'next', payload: INFO_RESULT },
      { id: 'bin', type: 'complete' },
    ]);
    expect(p.frames.length).toBeGreaterThan(5);
    expect(p.frames.filter((f) => f.binary)).toEqual([]);
    // An invalid message as a binary frame is as invalid as text.
    p.send('{"type":"nope"}', { binary: true });
    expect(await p.closed).toEqual({ code: 4400, reason: 'Invalid message received' });
  });
});

describe('keep-alive and message size (WS_KEEPALIVE_MS=1000, MAX_BODY_BYTES=4096)', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ env: { WS_KEEPALIVE_MS: '1000', MAX_BODY_BYTES: '4096' } });
  }, 60_000);
  afterAll(() => small?.dispose());

  const smallPeer = (options?: WebSocket.ClientOptions) => {
    const p = new Peer(small.url.replace(/^http/, 'ws'), PROTOCOL, options);
    peers.push(p);
    return p;
  };
  /** Resolves once the peer has received `n` WebSocket pings from the server (rejects if it closes first). */
  const pinged = (p: Peer, n: number) =>
    new Promise<void>((resolve, reject) => {
      let count = 0;
      p.socket.on('ping', () => {
        if (++count === n) resolve();
      });
      void p.closed.then((closed) => reject(new Error(`closed (${closed.code}) after ${count} pings`)));
    });

  it('pings every socket; one that answers stays open through several rounds', async () => {
    const p = smallPeer();
    // A second ping is only sent once the first was answered.
    const rounds = pinged(p, 3);
    await p.init({});
    await rounds;
    expect(p.closedWith).toBeNull();
    p.subscribe('info', INFO);
    expect(await p.completed('info')).toEqual([
      { id: 'info', type: 'next', payload: INFO_RESULT },
      { id: 'info', type: 'complete' },
    ]);
  });

  it('drops a socket that does not answer its ping by the next one', async () => {
    const p = smallPeer({ autoPong: false });
    const first = pinged(p, 1);
    await p.init({});
    await first;
    // Terminated, not closed: a peer that stopped answering would not take part in a closing handshake.
    expect((await p.closed).code).toBe(1006);
  });

  it('closes a socket whose message is larger than MAX_BODY_BYTES with 1009, and serves the next socket', async () => {
    const p = smallPeer();
    await p.init({});
    p.subscribe('big', `{ serverInfo { falBackend } } # ${'x'.repeat(5000)}`);
    expect((await p.closed).code).toBe(1009);
    const next = smallPeer();
    await next.init({});
    next.subscribe('info', INFO);
    expect(await next.completed('info')).toEqual([
      { id: 'info', type: 'next', payload: INFO_RESULT },
      { id: 'info', type: 'complete' },
    ]);
  });
});
