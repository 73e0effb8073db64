import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { bearer, collect, collectSse, disposeClients, EVENTS_SUBSCRIPTION, gql, wsClient } from '../helpers/graphql.ts';
import { rawGenerationId } from '../helpers/generation.ts';
import { createTenants, generateArchived, type Tenants } from '../helpers/tenants.ts';

// Two tenants (acme, globex) and an admin on every entry point: a foreign id must behave exactly like an
// unknown one, lists and live updates must never show another tenant's generation, and only the admin
// sees across tenants.
let server: TestServer;
let keys: Tenants;
let acmeId: string;
let globexId: string;
const UNKNOWN_UUID = '01930000-0000-7000-8000-000000000000';
const UNKNOWN = Buffer.from(`VideoGeneration:${UNKNOWN_UUID}`).toString('base64');
// The UUID inside a Relay global id (what messages and file URLs use).
const raw = rawGenerationId;
const anonymise = (value: unknown, ...ids: string[]) =>
  ids.reduce((text, id) => text.split(raw(id)).join('ID').split(id).join('ID'), JSON.stringify(value));

beforeAll(async () => {
  server = await startTestServer();
  keys = await createTenants(server);
  [acmeId, globexId] = await Promise.all([generateArchived(server, keys.acme), generateArchived(server, keys.globex)]);
});
afterAll(async () => {
  await server?.dispose();
});

const ONE = 'query($id: ID!) { videoGeneration(id: $id) { id status video { url } } }';
const NODE = 'query($id: ID!) { node(id: $id) { id ... on VideoGeneration { status } } }';
const LIST = '{ videoGenerations(first: 50) { edges { node { id } } } }';
const CANCEL = 'mutation($id: ID!) { cancelVideoGeneration(id: $id) { __typename ... on Error { message } } }';

describe('queries', () => {
  it('videoGeneration and node(id): own tenant visible, foreign id exactly like an unknown id, admin sees all', async () => {
    for (const query of [ONE, NODE]) {
      const field = query === ONE ? 'videoGeneration' : 'node';
      expect((await gql(server.url, query, { id: acmeId }, bearer(keys.acme))).data[field].id).toBe(acmeId);
      const foreign = await gql(server.url, query, { id: acmeId }, bearer(keys.globex));
      const unknown = await gql(server.url, query, { id: UNKNOWN }, bearer(keys.globex));
      expect(foreign).toEqual({ data: { [field]: null } });
      expect(foreign).toEqual(unknown);
      expect((await gql(server.url, query, { id: acmeId }, bearer(keys.admin))).data[field].id).toBe(acmeId);
      expect((await gql(server.url, query, { id: globexId }, bearer(keys.admin))).data[field].id).toBe(globexId);
    }
  });

  it("videoGenerations lists only the caller's tenant; the admin lists every tenant", async () => {
    const ids = async (key: string) =>
      (await gql(server.url, LIST, {}, bearer(key))).data.videoGenerations.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(await ids(keys.acme)).toEqual([acmeId]);
    expect(await ids(keys.globex)).toEqual([globexId]);
    expect((await ids(keys.admin)).sort()).toEqual([acmeId, globexId].sort());
  });

  it("usage counts only the caller's tenant", async () => {
    const usage = async (key: string) =>
      (await gql(server.url, '{ usage { tenantId today { generations estimatedCost } } }', {}, bearer(key))).data.usage;
    expect(await usage(keys.acme)).toEqual({ tenantId: 'acme', today: { generations: 1, estimatedCost: 0.42 } });
    expect(await usage(keys.admin)).toEqual({ tenantId: 'ops', today: { generations: 0, estimatedCost: 0 } });
    const of = (key: string, tenantId: string) =>
      gql(server.url, 'query($t: String) { usage(tenantId: $t) { tenantId today { generations } } }', { t: tenantId }, bearer(key));
    expect((await of(keys.admin, 'acme')).data.usage).toEqual({ tenantId: 'acme', today: { generations: 1 } });
    const refused = await of(keys.globex, 'acme');
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]).toMatchObject({ message: expect.stringMatching(/Only an admin/), extensions: { code: 'FORBIDDEN' } });
  });
});

describe('mutations', () => {
  it('cancelVideoGeneration on a foreign id answers exactly like an unknown id and changes nothing', async () => {
    const foreign = await gql(server.url, CANCEL, { id: acmeId }, bearer(keys.globex));
    const unknown = await gql(server.url, CANCEL, { id: UNKNOWN }, bearer(keys.globex));
    expect(foreign.data.cancelVideoGeneration.__typename).toBe('GenerationNotFoundError');
    expect(anonymise(foreign, acmeId)).toBe(anonymise(unknown, UNKNOWN));
    // The admin reaches it (already finished), so the generation really is there.
    expect((await gql(server.url, CANCEL, { id: acmeId }, bearer(keys.admin))).data.cancelVideoGeneration.__typename).toBe(
      'GenerationAlreadyFinishedError',
    );
    expect((await gql(server.url, ONE, { id: acmeId }, bearer(keys.acme))).data.videoGeneration.status).toBe('COMPLETED');
  });
});

describe('subscriptions', () => {
  it('videoGenerationEvents over graphql-ws: a foreign id fails exactly like an unknown id', async () => {
    const run = async (key: string, id: string) => {
      const client = wsClient(server.url, key);
      try {
        return await collect(client, EVENTS_SUBSCRIPTION, { id }).done.then(
          (payloads) => ({ payloads }),
          (error) => ({ error: String(error) }),
        );
      } finally {
        await client.dispose();
      }
    };
    const own = (await run(keys.acme, acmeId)) as { payloads: Array<{ data: { videoGenerationEvents: { status?: string } } }> };
    expect(own.payloads.at(-1)?.data.videoGenerationEvents.status).toBe('COMPLETED');
    const foreign = await run(keys.globex, acmeId);
    const unknown = await run(keys.globex, UNKNOWN);
    expect(anonymise(foreign, acmeId)).toBe(anonymise(unknown, UNKNOWN));
    expect(JSON.stringify(foreign)).toMatch(/No video generation/);
    const admin = (await run(keys.admin, acmeId)) as { payloads: unknown[] };
    expect(admin.payloads.length).toBe(own.payloads.length);
  });

  it('videoGenerationEvents over SSE: a foreign id fails exactly like an unknown id', async () => {
    const own = await collectSse(server.url, EVENTS_SUBSCRIPTION, { id: acmeId }, bearer(keys.acme));
    expect(own.at(-1)?.data.videoGenerationEvents.status).toBe('COMPLETED');
    const foreign = await collectSse(server.url, EVENTS_SUBSCRIPTION, { id: acmeId }, bearer(keys.globex));
    const unknown = await collectSse(server.url, EVENTS_SUBSCRIPTION, { id: UNKNOWN }, bearer(keys.globex));
    expect(foreign.every((p) => !p.data?.videoGenerationEvents)).toBe(true);
    expect(anonymise(foreign, acmeId)).toBe(anonymise(unknown, UNKNOWN));
  });

  it("videoGenerationUpdated (graphql-ws and SSE) delivers only the caller's tenant; the admin gets both", async () => {
    const UPDATED = 'subscription { videoGenerationUpdated { id status } }';
    const clients = {
      acme: wsClient(server.url, keys.acme),
      globex: wsClient(server.url, keys.globex),
      admin: wsClient(server.url, keys.admin),
    };
    const ws = { acme: collect(clients.acme, UPDATED), globex: collect(clients.globex, UPDATED), admin: collect(clients.admin, UPDATED) };
    const sse: Record<string, string[]> = { acme: [], globex: [], admin: [] };
    const aborts: AbortController[] = [];
    const sseStreams = (Object.keys(sse) as Array<keyof Tenants>).map((name) => {
      const abort = new AbortController();
      aborts.push(abort);
      return fetch(server.url, {
        method: 'POST',
        signal: abort.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(keys[name]) },
        body: JSON.stringify({ query: UPDATED }),
      })
        .then(async (response) => {
          const decoder = new TextDecoder();
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            for (const match of decoder.decode(chunk).matchAll(/"id":"([^"]+)"/g)) sse[name].push(match[1]);
          }
        })
        .catch(() => undefined);
    });
    try {
      // Each stream is in place once a ping generation of its own tenant reaches it.
      const acmeNew = await generateArchived(server, keys.acme);
      const globexNew = await generateArchived(server, keys.globex);
      const ids = (c: typeof ws.acme) => new Set(c.received.map((p) => p.data?.videoGenerationUpdated.id));
      await ws.admin.waitUntil(() => ids(ws.admin).has(acmeNew) && ids(ws.admin).has(globexNew));
      await ws.acme.waitUntil(() => ids(ws.acme).has(acmeNew));
      await ws.globex.waitUntil(() => ids(ws.globex).has(globexNew));
      expect(ids(ws.acme).has(globexNew)).toBe(false);
      expect(ids(ws.globex).has(acmeNew)).toBe(false);
      // SSE: same guarantees (the streams saw every update the ws clients saw, as they opened first).
      await expect
        .poll(
          () =>
            sse.admin.includes(acmeNew) && sse.admin.includes(globexNew) && sse.acme.includes(acmeNew) && sse.globex.includes(globexNew),
        )
        .toBe(true);
      expect(sse.acme).not.toContain(globexNew);
      expect(sse.globex).not.toContain(acmeNew);
    } finally {
      for (const abort of aborts) abort.abort();
      await Promise.all(sseStreams);
      await disposeClients(Object.values(clients));
    }
  });
});

describe('archived video files', () => {
  it('/videos/:id.mp4 serves the owner (by key or signed URL) and answers 404 to another tenant, as for an unknown id', async () => {
    const url = (await gql(server.url, ONE, { id: acmeId }, bearer(keys.acme))).data.videoGeneration.video.url as string;
    expect(url).toMatch(/\/videos\/[0-9a-f-]+\.mp4\?expires=\d+&sig=/);
    const plain = url.split('?')[0];
    const status = async (u: string, headers: Record<string, string> = {}) => (await fetch(u, { headers })).status;
    expect(await status(url)).toBe(200); // signed: works in a <video src> with no header
    expect(await status(plain, bearer(keys.acme))).toBe(200);
    expect(await status(plain, bearer(keys.admin))).toBe(200);
    expect(await status(plain, bearer(keys.globex))).toBe(404);
    expect(await status(plain)).toBe(404);
    expect(await status(plain.replace(raw(acmeId), UNKNOWN_UUID), bearer(keys.globex))).toBe(404);
    expect(await status(url.replace(/sig=[^&]+/, 'sig=AAAA'))).toBe(404);
    // A URL signed for one video does not open another.
    expect(url).toContain(raw(acmeId));
    expect(await status(url.replace(raw(acmeId), raw(globexId)))).toBe(404);
  });
});
