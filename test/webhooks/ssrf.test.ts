import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { gql } from '../helpers/graphql.ts';
import { generateOk, rawGenerationId } from '../helpers/generation.ts';
import { createSecretBox, loadWebhookServerSecret } from '../../src/outbound-webhooks/index.ts';
import { CREATE_ENDPOINT, startReceiver, type Receiver } from './receiver.ts';

// WEBHOOK_ALLOW_PRIVATE_URLS is off (the default): endpoints on loopback, private, link-local, CGNAT and
// metadata addresses are refused when registered, and again at every attempt, after DNS resolution.

let server: TestServer;
let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
  server = await startTestServer({ env: { WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCHEDULE: '0' } });
}, 60_000);
afterAll(async () => {
  await server?.dispose();
  await receiver?.close();
});

const create = (input: Record<string, unknown>) => gql(server.url, CREATE_ENDPOINT, { input });

describe('SSRF policy for webhook endpoints', () => {
  it.each([
    'http://127.0.0.1:9/hook',
    'http://localhost:9/hook',
    'http://[::1]/hook',
    'http://0.0.0.0/hook',
    'http://10.1.2.3/hook',
    'http://172.16.5.4/hook',
    'http://192.168.1.1/hook',
    'http://100.64.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[fe80::1]/hook',
    'http://[fc00::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[::ffff:a9fe:a9fe]/hook',
    'ftp://93.184.215.14/hook',
    'file:///etc/passwd',
    'not a url',
    'http://user:password@93.184.215.14/hook',
  ])('refuses %s at registration, on input.url', async (url) => {
    const result = await create({ url });
    expect(result.errors).toBeUndefined();
    const outcome = result.data.createWebhookEndpoint;
    expect(outcome.__typename).toBe('InputValidationError');
    expect(outcome.fieldErrors).toEqual([{ path: ['input', 'url'], message: expect.any(String) }]);
  });

  it('accepts a public address, and reports other bad fields with their paths', async () => {
    const ok = await create({ url: 'http://93.184.215.14/hook' });
    expect(ok.data.createWebhookEndpoint.__typename).toBe('CreateWebhookEndpointSuccess');
    const bad = await create({ url: 'http://10.0.0.1/', events: [], description: 'x'.repeat(501) });
    expect(bad.data.createWebhookEndpoint.fieldErrors.map((e: { path: string[] }) => e.path)).toEqual([
      ['input', 'url'],
      ['input', 'events'],
      ['input', 'description'],
    ]);
    const unknownEvent = await create({ url: 'http://93.184.215.14/hook', events: ['GENERATION_EXPLODED'] });
    expect(unknownEvent.errors?.[0].message).toMatch(/GENERATION_EXPLODED/);
  });

  it('refuses at delivery time a URL that resolves to loopback, without connecting to it', async () => {
    // Written straight to the table, as if it had been registered while the name still resolved elsewhere.
    const db = server.running.database.prisma;
    await db.webhookEndpoint.deleteMany({});
    const box = createSecretBox(await loadWebhookServerSecret(db));
    await db.webhookEndpoint.create({
      data: {
        tenantId: 'default',
        url: `http://localhost:${receiver.port}/hooks`,
        events: ['GENERATION_CREATED'],
        secretCiphertext: box.seal('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'),
      },
    });
    const generation = await generateOk(server);
    const [delivery] = await db.webhookDelivery.findMany({ where: { generationId: rawGenerationId(generation.id) } });
    await server.waitForLog((r) => r.deliveryId === delivery.id && r.status === 'FAILED');
    const row = await db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
    expect(row).toMatchObject({ status: 'FAILED', attempts: 2, lastStatusCode: null });
    expect(row.lastError).toMatch(/^refused: the host localhost resolves to (127\.0\.0\.1|::1), which is not a public address$/);
    expect(receiver.requests).toHaveLength(0);
  });
});
