import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { gql } from '../helpers/graphql.ts';
import { followToEnd, generateOk } from '../helpers/generation.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { CREATE_ENDPOINT, DELIVERIES, ENDPOINTS, startReceiver, verify, type Receiver } from './receiver.ts';

// One server, one receiver, the whole life of a generation: every event arrives signed (checked with the
// `standardwebhooks` package), in the documented body, and the secret is never shown or logged again.

let server: TestServer;
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_POLL_MS: '50' } });
}, 60_000);
afterAll(async () => {
  await server?.dispose();
  await receiver?.close();
});

describe('outbound webhooks', () => {
  let secret: string;
  let endpointId: string;

  it('registers an endpoint and shows its secret once, in the Standard Webhooks form', async () => {
    const result = await gql(server.url, CREATE_ENDPOINT, { input: { url: receiver.url, description: 'all events' } });
    expect(result.errors).toBeUndefined();
    const created = result.data.createWebhookEndpoint;
    expect(created.__typename).toBe('CreateWebhookEndpointSuccess');
    secret = registerSecret(created.secret);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    endpointId = created.endpoint.id;
    expect(created.endpoint).toMatchObject({
      url: receiver.url,
      description: 'all events',
      events: ['GENERATION_CREATED', 'GENERATION_STARTED', 'GENERATION_COMPLETED', 'GENERATION_FAILED', 'GENERATION_CANCELLED'],
    });
  });

  it('sends created, started and completed, each signed, with the documented body', async () => {
    const generation = await generateOk(server, { prompt: 'a webhook cat' });
    const { generation: finished } = await followToEnd(server, generation.id);
    expect(finished.status).toBe('COMPLETED');
    const ofThis = (type: string) => receiver.requests.filter((r) => r.json.data.id === generation.id && r.json.type === type);
    await receiver.waitFor(() => ofThis('generation.completed').length === 1);
    for (const type of ['generation.created', 'generation.started', 'generation.completed']) {
      expect(ofThis(type), type).toHaveLength(1);
      const [request] = ofThis(type);
      expect(verify(secret, request)).toEqual(request.json);
      expect(request.headers['webhook-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number(request.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(request.headers['content-type']).toBe('application/json');
      expect(new Date(request.json.timestamp).toISOString()).toBe(request.json.timestamp);
      expect(request.json.data).toMatchObject({ id: generation.id, prompt: 'a webhook cat', duration: 5, error: null });
      expect(new Date(request.json.data.createdAt).toISOString()).toBe(finished.createdAt ?? request.json.data.createdAt);
    }
    // Each event says what was true when it happened, however late it is sent.
    expect(ofThis('generation.created')[0].json.data).toMatchObject({ status: 'PENDING', video: null, completedAt: null });
    expect(ofThis('generation.started')[0].json.data).toMatchObject({ status: 'IN_PROGRESS', video: null, completedAt: null });
    const completed = ofThis('generation.completed')[0].json.data;
    expect(completed.status).toBe('COMPLETED');
    expect(new Date(completed.completedAt).getTime()).toBeGreaterThan(0);
    expect(completed.video.url).toBe(finished.video.url);
    const video = await fetch(completed.video.url, { redirect: 'manual' });
    expect([200, 302, 307]).toContain(video.status);
    await video.body?.cancel();
  });

  it('lists the endpoint and its deliveries, and never the secret', async () => {
    const result = await gql(server.url, ENDPOINTS);
    expect(result.errors).toBeUndefined();
    const [endpoint] = result.data.webhookEndpoints.edges.map((e: { node: unknown }) => e.node);
    expect(endpoint.id).toBe(endpointId);
    const listed = await gql(server.url, DELIVERIES, { id: endpointId });
    expect(listed.errors).toBeUndefined();
    const deliveries = listed.data.node.deliveries.edges.map((e: { node: Record<string, unknown> }) => e.node);
    expect(deliveries.map((d: { eventType: string }) => d.eventType).sort()).toEqual([
      'GENERATION_COMPLETED',
      'GENERATION_CREATED',
      'GENERATION_STARTED',
    ]);
    for (const d of deliveries) {
      expect(d).toMatchObject({ status: 'DELIVERED', attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
      expect(receiver.requests.some((r) => r.headers['webhook-id'] === rawId(d.id as string))).toBe(true);
    }
    expect(JSON.stringify(result)).not.toContain(secret.slice('whsec_'.length));
    // No field of any type can return it.
    const type = await gql(server.url, '{ __type(name: "WebhookEndpoint") { fields { name } } }');
    expect(type.data.__type.fields.map((f: { name: string }) => f.name)).not.toContain('secret');
    expect(server.logs.join('\n')).not.toContain(secret.slice('whsec_'.length));
    expect(server.logs.join('\n')).not.toContain(secret.slice(0, 20));
  });

  it('deletes the endpoint: nothing more is sent to it', async () => {
    const result = await gql(
      server.url,
      'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename ... on DeleteWebhookEndpointSuccess { deletedId } } }',
      {
        id: endpointId,
      },
    );
    expect(result.data.deleteWebhookEndpoint).toEqual({ __typename: 'DeleteWebhookEndpointSuccess', deletedId: endpointId });
    const again = await gql(server.url, 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }', { id: endpointId });
    expect(again.data.deleteWebhookEndpoint.__typename).toBe('WebhookEndpointNotFoundError');
    const before = receiver.requests.length;
    const generation = await generateOk(server);
    await followToEnd(server, generation.id);
    const rows = await server.running.database.prisma.webhookDelivery.count({ where: { generationId: rawId(generation.id) } });
    expect(rows).toBe(0);
    expect(receiver.requests.length).toBe(before);
  });
});

/** The database id inside a global (Relay) id. */
function rawId(id: string): string {
  return Buffer.from(id, 'base64').toString('utf8').split(':')[1];
}
