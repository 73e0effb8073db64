import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { bearer, gql } from '../helpers/graphql.ts';
import { rawGenerationId } from '../helpers/generation.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { createTenants, generateAs, type Tenants } from '../helpers/tenants.ts';
import { CREATE_ENDPOINT, DELIVERIES, ENDPOINTS, startReceiver, verify, type Receiver } from './receiver.ts';

// Two tenants, each with its own endpoint: each sees and changes only its own endpoints and deliveries, a
// foreign id behaves exactly like an unknown one, and events go only to the generation's own tenant.

let server: TestServer;
let keys: Tenants;
let acmeReceiver: Receiver;
let globexReceiver: Receiver;
beforeAll(async () => {
  [acmeReceiver, globexReceiver] = await Promise.all([startReceiver(), startReceiver()]);
  server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_POLL_MS: '50' } });
  keys = await createTenants(server);
}, 60_000);
afterAll(async () => {
  await server?.dispose();
  await acmeReceiver?.close();
  await globexReceiver?.close();
});

const as = (key: string, query: string, variables?: Record<string, unknown>) => gql(server.url, query, variables, bearer(key));

async function register(key: string, receiver: Receiver) {
  const result = await as(key, CREATE_ENDPOINT, { input: { url: receiver.url, events: ['GENERATION_CREATED'] } });
  expect(result.data.createWebhookEndpoint.__typename).toBe('CreateWebhookEndpointSuccess');
  return { id: result.data.createWebhookEndpoint.endpoint.id as string, secret: registerSecret(result.data.createWebhookEndpoint.secret) };
}

describe('webhook tenant isolation', () => {
  let acme: { id: string; secret: string };
  let globex: { id: string; secret: string };
  let acmeGeneration: string;
  let globexGeneration: string;

  it('needs an API key', async () => {
    const result = await gql(server.url, CREATE_ENDPOINT, { input: { url: acmeReceiver.url } });
    expect(result.data?.createWebhookEndpoint).toBeFalsy();
    expect(result.errors?.length).toBeGreaterThan(0);
  });

  it("sends each tenant's events only to its own endpoints", async () => {
    acme = await register(keys.acme, acmeReceiver);
    globex = await register(keys.globex, globexReceiver);
    acmeGeneration = (await generateAs(server, keys.acme)).generation.id;
    globexGeneration = (await generateAs(server, keys.globex)).generation.id;
    const [toAcme] = await acmeReceiver.waitFor((all) => all.some((r) => r.json.data.id === acmeGeneration));
    const [toGlobex] = await globexReceiver.waitFor((all) => all.some((r) => r.json.data.id === globexGeneration));
    expect(verify(acme.secret, toAcme)).toEqual(toAcme.json);
    expect(verify(globex.secret, toGlobex)).toEqual(toGlobex.json);
    // The outbox rows are written with the transition, so none missing now means none will ever come.
    const db = server.running.database.prisma;
    expect(
      await db.webhookDelivery.count({ where: { generationId: rawGenerationId(globexGeneration), endpointId: rawGenerationId(acme.id) } }),
    ).toBe(0);
    expect(
      await db.webhookDelivery.count({ where: { generationId: rawGenerationId(acmeGeneration), endpointId: rawGenerationId(globex.id) } }),
    ).toBe(0);
    expect(acmeReceiver.requests.every((r) => r.json.data.id === acmeGeneration)).toBe(true);
    expect(globexReceiver.requests.every((r) => r.json.data.id === globexGeneration)).toBe(true);
  });

  it('lists only the caller’s own endpoints and deliveries', async () => {
    const listed = async (key: string) =>
      (await as(key, ENDPOINTS)).data.webhookEndpoints.edges.map((e: { node: { id: string } }) => e.node.id) as string[];
    expect(await listed(keys.acme)).toEqual([acme.id]);
    expect(await listed(keys.globex)).toEqual([globex.id]);
    const own = await as(keys.acme, DELIVERIES, { id: acme.id });
    expect(own.data.node.deliveries.edges).toHaveLength(1);
    expect(own.data.node.deliveries.edges[0].node.generation.id).toBe(acmeGeneration);
    const foreign = await as(keys.globex, DELIVERIES, { id: acme.id });
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data.node).toBeNull();
  });

  it('treats a foreign endpoint or delivery id exactly like an unknown one', async () => {
    const own = await as(keys.acme, DELIVERIES, { id: acme.id });
    const deliveryId = own.data.node.deliveries.edges[0].node.id as string;
    const unknownEndpoint = Buffer.from('WebhookEndpoint:00000000-0000-4000-8000-000000000000').toString('base64');
    const unknownDelivery = Buffer.from('WebhookDelivery:00000000-0000-4000-8000-000000000000').toString('base64');

    const remove = (key: string, id: string) =>
      as(key, 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename ... on Error { message } } }', { id });
    const redeliver = (key: string, id: string) =>
      as(key, 'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename ... on Error { message } } }', { id });
    const node = (key: string, id: string) => as(key, 'query($id: ID!) { node(id: $id) { id } }', { id });

    const [foreignRemove, unknownRemove] = await Promise.all([remove(keys.globex, acme.id), remove(keys.globex, unknownEndpoint)]);
    expect(foreignRemove.data.deleteWebhookEndpoint.__typename).toBe('WebhookEndpointNotFoundError');
    expect(unknownRemove.data.deleteWebhookEndpoint.__typename).toBe('WebhookEndpointNotFoundError');
    const [foreignRedeliver, unknownRedeliver] = await Promise.all([
      redeliver(keys.globex, deliveryId),
      redeliver(keys.globex, unknownDelivery),
    ]);
    expect(foreignRedeliver.data.redeliverWebhook.__typename).toBe('WebhookDeliveryNotFoundError');
    expect(unknownRedeliver.data.redeliverWebhook.__typename).toBe('WebhookDeliveryNotFoundError');
    for (const id of [acme.id, deliveryId]) expect((await node(keys.globex, id)).data.node).toBeNull();
    // ...and nothing changed for the owner.
    expect((await node(keys.acme, acme.id)).data.node).toEqual({ id: acme.id });
    expect((await node(keys.acme, deliveryId)).data.node).toEqual({ id: deliveryId });
    await server.waitForLog((r) => r.deliveryId === rawGenerationId(deliveryId) && r.status === 'DELIVERED');
    const still = await as(keys.acme, DELIVERIES, { id: acme.id });
    expect(still.data.node.deliveries.edges[0].node.status).toBe('DELIVERED');
  });
});
