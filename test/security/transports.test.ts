import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/keys.ts';
import { DOCUMENT_LIMITS } from '../../src/http/hardening.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { gql, wsClient, type GraphQLResponse } from '../helpers/graphql.ts';
import { registerSecret } from '../helpers/secrets.ts';

/**
 * The same rules and the same errors on every transport (HTTP, SSE, graphql-ws), GraphQL on its one path, and
 * streams tied to their key however they were negotiated.
 */

const UPDATED = JSON.stringify({ query: 'subscription { videoGenerationUpdated { id status } }' });

/** Opens a subscription over HTTP with exactly these headers (no Accept added unless given). */
function openStream(url: string, headers: Record<string, string>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, resolve);
    req.on('error', reject);
    req.end(UPDATED);
  });
}

/** Resolves once the response body has ended (the server ended the stream). */
function ended(res: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    res.on('end', resolve);
    res.on('close', resolve);
    res.resume();
  });
}

// Every way a client may end up with a streamed response from Yoga.
const NEGOTIATIONS: Array<[string, Record<string, string>]> = [
  ['Accept: text/event-stream', { accept: 'text/event-stream' }],
  ['Accept: */*', { accept: '*/*' }],
  ['no Accept header', {}],
  ['Accept: Text/Event-Stream', { accept: 'Text/Event-Stream' }],
  ['Accept: application/json, text/event-stream', { accept: 'application/json;q=0.9, text/event-stream' }],
];

describe('streams are tied to their key however they were negotiated', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { AUTH_RECHECK_MS: '100' } });
  }, 60_000);
  afterAll(() => server?.dispose());

  it('a revocation ends every one of them within AUTH_RECHECK_MS', async () => {
    const db = server.running.database.prisma;
    const { key, info } = await createApiKey(db, { tenantId: 'acme', name: 'streams' });
    registerSecret(key);
    const streams = await Promise.all(
      NEGOTIATIONS.map(([, headers]) => openStream(server.url, { ...headers, authorization: `Bearer ${key}` })),
    );
    for (const [i, res] of streams.entries()) {
      expect(res.statusCode, NEGOTIATIONS[i][0]).toBe(200);
      expect(res.headers['content-type'], NEGOTIATIONS[i][0]).toMatch(/text\/event-stream/);
    }
    const allEnded = Promise.all(streams.map(ended));
    await revokeApiKey(db, info.id);
    await allEnded;
    expect(server.logs.some((l) => l.includes('ending their connections'))).toBe(true);
  });
});

describe('shutdown', () => {
  it(
    'ends every stream at once, however negotiated (SHUTDOWN_TIMEOUT_MS is far longer than this test may take)',
    { timeout: 30_000 },
    async () => {
      const server = await startTestServer({ env: { SHUTDOWN_TIMEOUT_MS: '120000' } });
      try {
        const streams = await Promise.all(NEGOTIATIONS.map(([, headers]) => openStream(server.url, headers)));
        for (const res of streams) expect(res.statusCode).toBe(200);
        const allEnded = Promise.all(streams.map(ended));
        await server.stopApp();
        await allEnded;
      } finally {
        await server.dispose();
      }
    },
  );
});

describe('graphql-ws is as strict as HTTP (production mode)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { NODE_ENV: 'production' } });
  }, 60_000);
  afterAll(() => server?.dispose());

  /** Runs one operation over graphql-ws: its payloads, or the errors of an `error` message. */
  function overWs(
    client: ReturnType<typeof wsClient>,
    query: string,
  ): Promise<{ next: GraphQLResponse[]; errors?: Array<{ message: string }> }> {
    const next: GraphQLResponse[] = [];
    return new Promise((resolve, reject) => {
      client.subscribe(
        { query },
        {
          next: (value) => void next.push(value as GraphQLResponse),
          complete: () => resolve({ next }),
          error: (error) =>
            Array.isArray(error)
              ? resolve({ next, errors: error as Array<{ message: string }> })
              : reject(new Error(`socket failed: ${JSON.stringify(error)}`)),
        },
      );
    });
  }

  const messages = (errors: Array<{ message: string }> | undefined) => (errors ?? []).map((e) => e.message);

  it('refuses introspection, document-limit violations and unknown fields with the same errors, and keeps the socket', async () => {
    const client = wsClient(server.url);
    let closed = false;
    client.on('closed', () => (closed = true));
    // Keeps the (lazy) socket open across the refusals: a 4500 close would end it.
    const held = client.subscribe(
      { query: 'subscription { videoGenerationUpdated { id } }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    try {
      const deep = `{ serverInfo ${'{ a '.repeat(DOCUMENT_LIMITS.maxDepth + 10)}${'}'.repeat(DOCUMENT_LIMITS.maxDepth + 10)} }`;
      const aliases = `{ ${Array.from({ length: DOCUMENT_LIMITS.maxAliases + 5 }, (_, i) => `a${i}: serverInfo { version }`).join(' ')} }`;
      const tokens = `{ ${Array.from({ length: DOCUMENT_LIMITS.maxTokens + 10 }, () => '__typename').join(' ')} }`;
      const cases: Array<[string, string, RegExp]> = [
        ['introspection', '{ __schema { queryType { name } } }', /introspection/i],
        ['depth', deep, /depth/i],
        ['aliases', aliases, /alias/i],
        ['tokens', tokens, /token/i],
        ['unknown field', '{ serverInf { version } }', /Cannot query field "serverInf"/],
      ];
      for (const [name, query, pattern] of cases) {
        const http = await gql(server.url, query);
        const ws = await overWs(client, query);
        expect(messages(http.errors).join('\n'), `${name} over HTTP`).toMatch(pattern);
        expect(messages(ws.errors), `${name}: same errors over graphql-ws`).toEqual(messages(http.errors));
        expect(ws.next, name).toEqual([]);
        // Field suggestions would hand out the schema that introspection hides.
        expect(JSON.stringify([http, ws]), name).not.toMatch(/Did you mean/);
      }
      // The socket survived every refusal and still serves.
      const ok = await overWs(client, '{ serverInfo { falBackend } }');
      expect(ok.next).toEqual([{ data: { serverInfo: { falBackend: 'SIMULATOR' } } }]);
      expect(closed).toBe(false);
    } finally {
      held();
      await client.dispose();
    }
  });

  it('also hides suggestions in argument, enum and input errors', async () => {
    const result = await gql(server.url, 'query($id: ID!) { videoGeneration(idd: $id) { statuss } }', { id: 'x' });
    expect(result.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(result)).not.toMatch(/Did you mean/);
    const enumError = await gql(
      server.url,
      'query { videoGenerations(first: 1, filter: { status: [COMPLETE] }) { edges { node { id } } } }',
    );
    expect(enumError.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(enumError)).not.toMatch(/Did you mean/);
    const variableError = await gql(
      server.url,
      'query($s: [VideoGenerationStatus!]) { videoGenerations(first: 1, filter: { status: $s }) { edges { node { id } } } }',
      { s: ['COMPLETE'] },
    );
    expect(variableError.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(variableError)).not.toMatch(/Did you mean/);
  });
});

describe('GraphQL is served on its one path', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { AUTH: 'required', NODE_ENV: 'production' } });
  }, 60_000);
  afterAll(() => server?.dispose());

  it('/graphql/, /x/graphql and other paths never reach GraphQL (no validation, no suggestions, no key needed to learn nothing)', async () => {
    const origin = new URL(server.url).origin;
    for (const path of ['/graphql/', '/x/graphql', '/api/graphql', '/graphql/graphql', '/GRAPHQL', '/graphql;x']) {
      const response = await fetch(`${origin}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ serverInf { version } }' }),
      });
      const text = await response.text();
      expect(response.status, path).toBe(404);
      expect(text, path).not.toMatch(/Did you mean|Cannot query field|serverInf/);
    }
    // The one path still needs its key.
    expect(
      (
        await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ serverInf }' }),
        })
      ).status,
    ).toBe(401);
  });
});
