import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { gql } from '../helpers/graphql.ts';
import { followToEnd, generateOk, rawGenerationId } from '../helpers/generation.ts';
import type { LogRecord } from '../helpers/logs.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { CREATE_ENDPOINT, DELIVERIES, startReceiver, verify, type Receiver } from './receiver.ts';

// Retries on a short schedule (WEBHOOK_RETRY_SCHEDULE=0,0: three attempts in all), with receivers that fail on
// purpose. The waits are on the receivers' requests and on the server's own log lines, never on time.

let server: TestServer;
const receivers: Receiver[] = [];
beforeAll(async () => {
  server = await startTestServer({
    env: { WEBHOOK_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCHEDULE: '0,0', WEBHOOK_TIMEOUT_MS: '2000' },
  });
}, 60_000);
afterAll(async () => {
  await server?.dispose();
  for (const receiver of receivers) await receiver.close();
});

async function endpointFor(receiver: Receiver): Promise<{ id: string; secret: string }> {
  const result = await gql(server.url, CREATE_ENDPOINT, { input: { url: receiver.url, events: ['GENERATION_COMPLETED'] } });
  expect(result.data.createWebhookEndpoint.__typename).toBe('CreateWebhookEndpointSuccess');
  return { id: result.data.createWebhookEndpoint.endpoint.id, secret: registerSecret(result.data.createWebhookEndpoint.secret) };
}

const settled = (deliveryId: string, status: string) => (r: LogRecord) => r.deliveryId === deliveryId && r.status === status;

async function deliveriesOf(endpointId: string) {
  const result = await gql(server.url, DELIVERIES, { id: endpointId });
  expect(result.errors).toBeUndefined();
  return result.data.node.deliveries.edges.map((e: { node: Record<string, any> }) => e.node);
}

describe('delivery retries', () => {
  let failing: Receiver;
  let refusing: Receiver;
  let failingEndpoint: { id: string; secret: string };
  let refusingEndpoint: { id: string; secret: string };
  let generationId: string;

  beforeAll(async () => {
    // Fails twice, then succeeds.
    failing = await startReceiver((n) => (n < 2 ? [500, 503][n] : 200));
    // A redirect (which must not be followed), then errors until the schedule is used up; 200 after a redelivery.
    refusing = await startReceiver((n) => (n === 0 ? 302 : n < 3 ? 500 : 200));
    receivers.push(failing, refusing);
    failingEndpoint = await endpointFor(failing);
    refusingEndpoint = await endpointFor(refusing);
    const generation = await generateOk(server);
    generationId = generation.id;
    await followToEnd(server, generation.id);
  });

  it('retries a receiver that fails twice, with the same webhook-id, body and valid signature each time', async () => {
    const requests = await failing.waitFor((all) => all.length === 3);
    expect(requests.map((r) => r.answered)).toEqual([500, 503, 200]);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const request of requests) expect(verify(failingEndpoint.secret, request)).toEqual(request.json);
    expect(requests[0].json).toMatchObject({ type: 'generation.completed', data: { id: generationId, status: 'COMPLETED' } });

    const deliveryId = String(requests[0].headers['webhook-id']);
    await server.waitForLog(settled(deliveryId, 'DELIVERED'));
    const [delivery] = await deliveriesOf(failingEndpoint.id);
    expect(delivery).toMatchObject({
      eventType: 'GENERATION_COMPLETED',
      status: 'DELIVERED',
      attempts: 3,
      lastStatusCode: 200,
      lastError: null,
    });
    expect(delivery.generation.id).toBe(generationId);
    // Every attempt is recorded.
    const attempts = await server.running.database.prisma.webhookAttempt.findMany({ where: { deliveryId }, orderBy: { attempt: 'asc' } });
    expect(attempts.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 503, 'HTTP 503'],
      [3, 200, null],
    ]);
  });

  it('does not follow a redirect, fails once the schedule is used up, and sends again on redeliverWebhook', async () => {
    const requests = await refusing.waitFor((all) => all.length === 3);
    const deliveryId = String(requests[0].headers['webhook-id']);
    await server.waitForLog(settled(deliveryId, 'FAILED'));
    const [failed] = await deliveriesOf(refusingEndpoint.id);
    expect(failed).toMatchObject({
      status: 'FAILED',
      attempts: 3,
      lastStatusCode: 500,
      lastError: 'HTTP 500',
      nextAttemptAt: null,
      deliveredAt: null,
    });
    const first = await server.running.database.prisma.webhookAttempt.findFirstOrThrow({ where: { deliveryId, attempt: 1 } });
    expect(first).toMatchObject({ statusCode: 302, error: 'HTTP 302: redirects are not followed' });
    expect(refusing.requests).toHaveLength(3);

    const redelivered = await gql(
      server.url,
      'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename ... on RedeliverWebhookSuccess { delivery { id status attempts } } } }',
      { id: failed.id },
    );
    expect(redelivered.data.redeliverWebhook).toEqual({
      __typename: 'RedeliverWebhookSuccess',
      delivery: { id: failed.id, status: 'PENDING', attempts: 3 },
    });
    const again = await refusing.waitFor((all) => all.length === 4);
    expect(again[3].headers['webhook-id']).toBe(deliveryId);
    expect(verify(refusingEndpoint.secret, again[3])).toEqual(again[3].json);
    await server.waitForLog(settled(deliveryId, 'DELIVERED'));
    const [delivered] = await deliveriesOf(refusingEndpoint.id);
    expect(delivered).toMatchObject({ status: 'DELIVERED', attempts: 4, lastStatusCode: 200 });
  });

  it('counts attempts by outcome in /metrics', async () => {
    const text = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    const count = (outcome: string) =>
      Number(new RegExp(`reelgraph_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1]);
    expect(count('delivered')).toBe(2);
    expect(count('failed')).toBe(1);
    expect(count('retrying')).toBe(4);
  });

  it('treats an unknown or malformed delivery id as unknown', async () => {
    for (const id of [
      '00000000-0000-4000-8000-000000000000',
      'not-an-id',
      Buffer.from(`VideoGeneration:${rawGenerationId(generationId)}`).toString('base64'),
    ]) {
      const result = await gql(
        server.url,
        'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { __typename ... on Error { message } } }',
        { id },
      );
      expect(result.data.redeliverWebhook.__typename).toBe('WebhookDeliveryNotFoundError');
    }
  });
});
