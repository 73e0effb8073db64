import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { gql } from '../helpers/graphql.ts';

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('hostile GraphQL documents are refused before execution, and the server keeps serving', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.dispose());

  const refusedWith = async (query: string, pattern: RegExp) => {
    const result = await gql(server.url, query);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.map((e) => e.message).join('\n')).toMatch(pattern);
    // Never a stack trace or an internal path in what comes back.
    expect(JSON.stringify(result)).not.toMatch(/\.ts:\d+|node_modules|at [\w.]+ \(/);
  };

  it('deep nesting', async () => {
    const deep = `{ serverInfo ${'{ a '.repeat(40)}${'}'.repeat(40)} }`;
    await refusedWith(deep, /depth/i);
  });

  it('alias bombs', async () => {
    const aliases = Array.from({ length: 200 }, (_, i) => `a${i}: serverInfo { version }`).join(' ');
    await refusedWith(`{ ${aliases} }`, /alias/i);
  });

  it('token floods', async () => {
    const fields = Array.from({ length: 3_000 }, () => '__typename').join(' ');
    await refusedWith(`{ ${fields} }`, /token/i);
  });

  it('directive floods', async () => {
    await refusedWith(`{ serverInfo { version ${'@include(if: true) '.repeat(60)} } }`, /directive/i);
  });

  it('fragment cycles', async () => {
    await refusedWith('query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }', /cannot spread fragment|cycle/i);
  });

  it('huge pages', async () => {
    const result = await gql(server.url, '{ videoGenerations(first: 100000000) { edges { node { id } } } }');
    // Either refused by the cost limit or capped by the connection: never a hundred million rows.
    if (result.errors) expect(result.errors.map((e) => e.message).join('\n')).toMatch(/cost|first|page|limit/i);
    else expect(result.data.videoGenerations.edges.length).toBeLessThanOrEqual(100);
  });

  it('the nested pages real clients send stay within the limits', async () => {
    const nested = `{ webhookEndpoints(first: 5) { edges { node { id url events description createdAt
      deliveries(first: 10) { edges { node { id eventType status attempts lastStatusCode lastError nextAttemptAt deliveredAt createdAt
        generation { id status } } } pageInfo { hasNextPage endCursor } } } } } }`;
    const result = await gql(server.url, nested);
    expect(result.errors).toBeUndefined();
    expect(result.data.webhookEndpoints.edges).toEqual([]);
  });

  it('oversized bodies', async () => {
    const response = await post(server.url, JSON.stringify({ query: `{ serverInfo { version } } # ${'x'.repeat(2 * 1024 * 1024)}` }));
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].message).toMatch(/too large/);
  });

  it('batched operations', async () => {
    const response = await post(
      server.url,
      JSON.stringify([{ query: '{ serverInfo { version } }' }, { query: '{ serverInfo { version } }' }]),
    );
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });

  it('still answers an ordinary query after all of that', async () => {
    const result = await gql(server.url, '{ serverInfo { falBackend } }');
    expect(result).toEqual({ data: { serverInfo: { falBackend: 'SIMULATOR' } } });
  });
});

describe('development defaults', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { NODE_ENV: 'development' } });
  });
  afterAll(() => server?.dispose());

  it("serves GraphiQL's page to a browser (its bundle is loaded on the first page asked for)", async () => {
    for (let i = 0; i < 2; i += 1) {
      const page = await fetch(server.url, { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      expect(await page.text()).toMatch(/graphiql/i);
    }
  });
});

describe('production defaults', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { NODE_ENV: 'production' } });
  });
  afterAll(() => server?.dispose());

  it('turns introspection and GraphiQL off', async () => {
    const result = await gql(server.url, '{ __schema { queryType { name } } }');
    expect(result.errors?.[0].message).toMatch(/introspection/i);
    const page = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
    expect((await gql(server.url, '{ serverInfo { falBackend } }')).data.serverInfo.falBackend).toBe('SIMULATOR');
  });
});
