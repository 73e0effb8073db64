import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/keys.ts';
import { createDb } from '../../src/db/index.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { bearer, collect, gql, wsClient } from '../helpers/graphql.ts';
import { generateAs } from '../helpers/tenants.ts';
import { registerSecret } from '../helpers/secrets.ts';

const servers: TestServer[] = [];
async function server(env: Record<string, string> = {}) {
  const s = await startTestServer({ env: { AUTH_RECHECK_MS: '100', ...env } });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

const INFO = '{ serverInfo { version } }';
const post = (url: string, init: RequestInit & { headers?: Record<string, string> }) => fetch(url, { method: 'POST', ...init });

/** Opens a graphql-ws connection and resolves with how it ended (close code) or 'connected'. */
async function connect(url: string, authorization?: unknown): Promise<number | 'connected'> {
  const { createClient } = await import('graphql-ws');
  const { default: WebSocket } = await import('ws');
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: authorization === undefined ? undefined : { authorization },
  });
  try {
    return await new Promise((resolve) => {
      client.on('connected', () => resolve('connected'));
      client.on('closed', (event) => resolve((event as { code: number }).code));
    });
  } finally {
    await client.dispose();
  }
}

describe('auth modes', () => {
  it('runs open on loopback while no key exists, says so at start-up, and requires keys once one exists', async () => {
    const s = await server();
    expect(s.logs.some((l) => /AUTH OPEN/.test(l))).toBe(true);
    expect((await gql(s.url, INFO)).data.serverInfo.version).toBeTruthy();
    expect(await connect(s.url)).toBe('connected');

    const key = registerSecret((await createApiKey(s.running.database.prisma, { tenantId: 'acme', name: 'ci' })).key);
    const missing = await post(s.url, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: INFO }) });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await missing.json()).errors[0]).toMatchObject({
      message: expect.stringMatching(/API key is required/),
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect(await connect(s.url)).toBe(4403);
    expect((await gql(s.url, INFO, {}, bearer(key))).data.serverInfo.version).toBeTruthy();
    expect(await connect(s.url, `Bearer ${key}`)).toBe('connected');
  });

  it('AUTH=required: every operation needs a key even on loopback with no key in the database', async () => {
    const s = await server({ AUTH: 'required', GRAPHIQL: 'false' });
    expect(s.logs.some((l) => /AUTH OPEN/.test(l))).toBe(false);
    // With GraphiQL off, a browser-style GET is an operation like any other: it needs a key too.
    const browserGet = await fetch(`${s.url}?query=${encodeURIComponent('{ videoGenerations(first: 1) { edges { cursor } } }')}`, {
      headers: { accept: 'text/html' },
    });
    expect(browserGet.status).toBe(401);
    // Except a GET of the public serverInfo alone (a dashboard's banner before a key is entered); not by POST, and
    // not mixed with anything else.
    const publicGet = await fetch(`${s.url}?query=${encodeURIComponent('{ serverInfo { simulated authRequired version } }')}`);
    expect((await publicGet.json()).data.serverInfo).toMatchObject({ simulated: true, authRequired: true });
    const mixed = `{ serverInfo { version } videoGenerations(first: 1) { edges { cursor } } }`;
    expect((await fetch(`${s.url}?query=${encodeURIComponent(mixed)}`)).status).toBe(401);
    expect(s.logs.some((l) => /no API key exists yet/.test(l))).toBe(true);
    expect((await post(s.url, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: INFO }) })).status).toBe(
      401,
    );
    expect(await connect(s.url)).toBe(4403);
  });

  it('never runs open on a non-loopback interface', async () => {
    const s = await server({ HOST: '0.0.0.0' });
    expect(s.logs.some((l) => /AUTH OPEN/.test(l))).toBe(false);
    expect(
      (
        await post(s.url.replace('0.0.0.0', '127.0.0.1'), {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: INFO }),
        })
      ).status,
    ).toBe(401);
  });
});

describe('API keys on every transport', () => {
  it('refuses bad keys on HTTP, SSE and graphql-ws (4403 before any subscription runs)', async () => {
    const s = await server();
    const key = registerSecret((await createApiKey(s.running.database.prisma, { tenantId: 'acme', name: 'ci' })).key);
    for (const authorization of [
      'Bearer rg_not-a-real-key-000000000000000000000000000000000',
      'Basic dXNlcjpwYXNz',
      'Bearer',
      `Bearer ${key}x`,
    ]) {
      const http = await post(s.url, {
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: INFO }),
      });
      expect(http.status).toBe(401);
      const sse = await post(s.url, {
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization },
        body: JSON.stringify({ query: 'subscription { videoGenerationUpdated { id } }' }),
      });
      expect(sse.status).toBe(401);
      expect(await connect(s.url, authorization)).toBe(4403);
    }
    expect(await connect(s.url, { not: 'a string' })).toBe(4403);
    // The same key works everywhere, bare or as Bearer in connectionParams.
    expect(await connect(s.url, key)).toBe('connected');
    const sse = await post(s.url, {
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(key) },
      body: JSON.stringify({ query: INFO }),
    });
    expect(sse.status).toBe(200);
    expect(await sse.text()).toContain('serverInfo');
  });

  it('a revoked key stops working, and its open subscriptions end (graphql-ws closed with 4403, SSE stream ended)', async () => {
    const s = await server();
    const db = s.running.database.prisma;
    const { key, info } = await createApiKey(db, { tenantId: 'acme', name: 'ci' });
    const other = await createApiKey(db, { tenantId: 'acme', name: 'other' });
    registerSecret(key);
    registerSecret(other.key);
    const client = wsClient(s.url, key);
    const survivor = wsClient(s.url, other.key);
    const UPDATED = 'subscription { videoGenerationUpdated { id status } }';
    const live = collect(client, UPDATED);
    const stays = collect(survivor, UPDATED);
    const sse = await post(s.url, {
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(key) },
      body: JSON.stringify({ query: UPDATED }),
    });
    expect(sse.status).toBe(200);
    const sseEnded = sse.text();
    // Both streams are live: they receive an update.
    await generateAs(s, other.key);
    await live.waitFor(1);
    await stays.waitFor(1);

    await revokeApiKey(db, info.id);
    await expect(live.done).rejects.toThrow(/4403/);
    await expect(sseEnded).resolves.toBeTypeOf('string');
    expect(
      (await post(s.url, { headers: { 'content-type': 'application/json', ...bearer(key) }, body: JSON.stringify({ query: INFO }) }))
        .status,
    ).toBe(401);
    expect(await connect(s.url, `Bearer ${key}`)).toBe(4403);
    // Another key of the same tenant is untouched.
    const before = stays.received.length;
    await generateAs(s, other.key);
    await stays.waitFor(before + 1);
    expect(s.logs.some((l) => l.includes('ending their connections'))).toBe(true);
    await client.dispose();
    await survivor.dispose();
  });
});

describe('browser protections', () => {
  it('refuses cross-site simple requests (CSRF) unless they carry the preflight header; accepts chunked bodies under the limit', async () => {
    const s = await server();
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: 'mutation { cancelVideoGeneration(id: "x") { __typename } }' }));
    form.set('map', '{}');
    const csrf = await post(s.url, { body: form });
    expect(csrf.status).toBe(403);
    expect((await csrf.json()).errors[0].message).toMatch(/Cross-site request refused/);
    const plain = await post(s.url, { headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: INFO }) });
    expect(plain.status).toBe(403);
    const withHeader = await post(s.url, { body: form, headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(withHeader.status).toBe(200);
    expect((await withHeader.json()).data.cancelVideoGeneration.__typename).toBe('GenerationNotFoundError');

    const chunked = await post(s.url, {
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(JSON.stringify({ query: INFO }))), c.close()) }),
      duplex: 'half',
    } as RequestInit & { duplex: string; headers: Record<string, string> });
    // No Content-Length: the body is counted as it streams (test/security/body-limits.test.ts covers the limit).
    expect(chunked.status).toBe(200);
    expect((await chunked.json()).data.serverInfo.version).toBeTruthy();
    // The server keeps serving.
    expect((await gql(s.url, INFO)).data.serverInfo.version).toBeTruthy();
  });
});

describe('npm run keys', () => {
  // On PostgreSQL, as in a deployment where the CLI runs beside live servers (and each run opens faster).
  it('creates (shown once), lists (never the key) and revokes keys', { timeout: 90_000 }, async () => {
    const postgres = await createTempPostgresDatabase();
    const run = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['src/cli/keys.ts', ...args], {
          env: { PATH: process.env.PATH, DATABASE_URL: postgres.url },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      });
    try {
      const created = await run('create', '--tenant', 'acme', '--name', 'ci');
      expect(created.code).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^rg_[A-Za-z0-9_-]{43}$/);
      expect(created.stderr).toMatch(/only time it is shown/);
      const admin = JSON.parse((await run('create', '--tenant', 'ops', '--name', 'root', '--admin', '--json')).stdout);
      expect(admin).toMatchObject({ tenantId: 'ops', name: 'root', scope: 'ADMIN', key: expect.stringMatching(/^rg_/) });

      const list = await run('list');
      expect(list.code).toBe(0);
      expect(list.stdout).toContain('tenant=acme');
      expect(list.stdout).toContain('scope=ADMIN');
      expect(list.stdout).not.toContain(key);
      expect(list.stdout).not.toContain(admin.key);
      const revoked = await run('revoke', key.slice(0, 10));
      expect(revoked.code).toBe(0);
      expect(revoked.stdout).toMatch(/REVOKED/);
      expect((await run('create', '--tenant', 'bad tenant', '--name', 'x')).code).toBe(2);
      expect((await run('revoke', 'rg_nope')).code).toBe(2);

      const database = await createDb({ kind: 'postgres', url: postgres.url, poolSize: 1 });
      try {
        const rows = await database.prisma.apiKey.findMany();
        expect(rows).toHaveLength(2);
        // Only hashes are stored.
        expect(JSON.stringify(rows)).not.toContain(key.slice(10));
        expect(rows.find((r) => r.tenantId === 'acme')?.revokedAt).toBeInstanceOf(Date);
      } finally {
        await database.close();
      }
    } finally {
      await postgres.drop();
    }
  });
});
