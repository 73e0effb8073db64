import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/keys.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { bearer, wsClient, type GraphQLResponse } from '../helpers/graphql.ts';
import { createTenants, generateAs, type Tenants } from '../helpers/tenants.ts';
import { registerSecret } from '../helpers/secrets.ts';

// HTTP POST, SSE and graphql-ws build their GraphQL context through one contextFactory (src/http/context.ts),
// from the connection authentication put in the initial context: the same key must mean the same caller, the
// same visibility and the same refusal on all three.

let s: TestServer;
let keys: Tenants;
let acmeGeneration: string;
beforeAll(async () => {
  s = await startTestServer();
  keys = await createTenants(s);
  const created = await generateAs(s, keys.acme);
  expect(created.__typename).toBe('GenerateVideoSuccess');
  acmeGeneration = created.generation.id;
});
afterAll(() => s?.dispose());

const WHO = /* GraphQL */ `
  query Who($id: ID!) {
    usage { tenantId }
    videoGeneration(id: $id) { id }
  }
`;

type Who = { usage: { tenantId: string }; videoGeneration: { id: string } | null };
type Outcome = { ok: true; result: GraphQLResponse<Who> } | { ok: false; refusal: number | string };

/** The same operation over real HTTP POST. */
async function overHttp(key: string, variables: Record<string, unknown>): Promise<Outcome> {
  const response = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...bearer(key) },
    body: JSON.stringify({ query: WHO, variables }),
  });
  if (!response.ok) return { ok: false, refusal: response.status };
  return { ok: true, result: (await response.json()) as GraphQLResponse<Who> };
}

/** The same operation over Server-Sent Events (Yoga answers a query there with one `next`, then `complete`). */
async function overSse(key: string, variables: Record<string, unknown>): Promise<Outcome> {
  const response = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(key) },
    body: JSON.stringify({ query: WHO, variables }),
  });
  if (!response.ok) return { ok: false, refusal: response.status };
  const text = await response.text();
  const data = /event: next\ndata: (.*)\n/.exec(text)?.[1];
  if (!data) throw new Error(`no next event in the SSE answer: ${text}`);
  return { ok: true, result: JSON.parse(data) as GraphQLResponse<Who> };
}

/** The same operation over graphql-ws; a refused connection_init shows as its close code. */
async function overWebSocket(key: string, variables: Record<string, unknown>): Promise<Outcome> {
  const client = wsClient(s.url, key);
  try {
    return await new Promise<Outcome>((resolve) => {
      let result: GraphQLResponse<Who> | undefined;
      client.subscribe<Who>(
        { query: WHO, variables },
        {
          next: (value) => void (result = value as GraphQLResponse<Who>),
          error: (error) => resolve({ ok: false, refusal: (error as { code?: number }).code ?? String(error) }),
          complete: () => resolve(result ? { ok: true, result } : { ok: false, refusal: 'completed without a result' }),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

const transports = { http: overHttp, sse: overSse, 'graphql-ws': overWebSocket };

describe('one contextFactory for every transport', () => {
  it('gives each key its own tenant and visibility on HTTP, SSE and graphql-ws alike', async () => {
    for (const [name, run] of Object.entries(transports)) {
      const own = await run(keys.acme, { id: acmeGeneration });
      expect(own, name).toEqual({ ok: true, result: { data: { usage: { tenantId: 'acme' }, videoGeneration: { id: acmeGeneration } } } });
      // A foreign tenant's key: its own tenant, and acme's generation does not exist for it.
      const foreign = await run(keys.globex, { id: acmeGeneration });
      expect(foreign, name).toEqual({ ok: true, result: { data: { usage: { tenantId: 'globex' }, videoGeneration: null } } });
      // An admin sees every tenant's rows but is still its own tenant.
      const admin = await run(keys.admin, { id: acmeGeneration });
      expect(admin, name).toEqual({ ok: true, result: { data: { usage: { tenantId: 'ops' }, videoGeneration: { id: acmeGeneration } } } });
    }
  });

  it('refuses a revoked or unknown key on all three before anything runs (401, 401, close 4403)', async () => {
    const db = s.running.database.prisma;
    const created = await createApiKey(db, { tenantId: 'acme', name: 'revoked' });
    const revoked = registerSecret(created.key);
    await revokeApiKey(db, created.info.id);
    const unknown = registerSecret('rg_not-a-key-anyone-created');
    for (const key of [revoked, unknown]) {
      expect(await overHttp(key, { id: acmeGeneration })).toEqual({ ok: false, refusal: 401 });
      expect(await overSse(key, { id: acmeGeneration })).toEqual({ ok: false, refusal: 401 });
      expect(await overWebSocket(key, { id: acmeGeneration })).toEqual({ ok: false, refusal: 4403 });
    }
    // The refusal reads the same over HTTP whichever way the client asked for its answer.
    const answers = await Promise.all(
      ['application/json', 'text/event-stream'].map(async (accept) => {
        const response = await fetch(s.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept, ...bearer(revoked) },
          body: JSON.stringify({ query: '{ serverInfo { version } }' }),
        });
        return { status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.json() };
      }),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0].challenge).toBe('Bearer realm="reelgraph", error="invalid_token"');
    expect(answers[0].body.errors[0]).toMatchObject({ message: 'Invalid or revoked API key', extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('still answers a key-less request with 401 on HTTP and SSE, and 4403 on graphql-ws, once keys exist', async () => {
    const noKey = async (accept: string) =>
      (
        await fetch(s.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept },
          body: JSON.stringify({ query: '{ serverInfo { version } }' }),
        })
      ).status;
    expect(await noKey('application/json')).toBe(401);
    expect(await noKey('text/event-stream')).toBe(401);
    const client = wsClient(s.url);
    try {
      const code = await new Promise((resolve) =>
        client.subscribe(
          { query: '{ serverInfo { version } }' },
          { next: () => {}, error: (e) => resolve((e as { code?: number }).code), complete: () => resolve('completed') },
        ),
      );
      expect(code).toBe(4403);
    } finally {
      await client.dispose();
    }
  });
});
