import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/app.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { spawnServerGroup, type GroupServer } from '../helpers/process.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { CREATE_ENDPOINT, DELIVERIES, startReceiver, verify, type Receiver } from './receiver.ts';

// The outbox survives a SIGKILL: the first process records the transitions (and with them, in the same
// transactions, the deliveries) but never sends them, since its dispatcher's next poll is ten minutes away. It
// is killed with the whole process group; a restart on the same DATA_DIR (or PostgreSQL database) sends them.

const servers: GroupServer[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('webhook deliveries across a SIGKILL', () => {
  it('are made after a restart, each once and signed', { timeout: 180_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-webhooks-kill-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const postgres = process.env.TEST_DATABASE === 'postgres' ? await createTempPostgresDatabase() : null;
    if (postgres) cleanups.push(() => postgres.drop());
    const receiver: Receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const env = {
      ...(postgres ? { DATABASE_URL: postgres.url } : {}),
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      FAL_BACKEND: 'simulator',
      SIMULATOR_PRESET: 'fast',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_RETRY_SCHEDULE: '0,0,0',
    };
    const first = await spawnServerGroup({ ...env, WEBHOOK_POLL_MS: '600000' });
    servers.push(first);
    const created = await gql(first.url, CREATE_ENDPOINT, { input: { url: receiver.url } });
    const { endpoint, secret } = created.data.createWebhookEndpoint as { endpoint: { id: string }; secret: string };
    registerSecret(secret);
    const submitted = await gql(first.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'outlive the kill' } });
    const { id } = submitted.data.generateVideo.generation as { id: string };
    const client = wsClient(first.url);
    const events = (await collect(client, EVENTS_SUBSCRIPTION, { id }).done).map((p) => p.data.videoGenerationEvents);
    await client.dispose();
    expect(events.at(-1).status).toBe('COMPLETED');

    const pending = await gql(first.url, DELIVERIES, { id: endpoint.id });
    const before = pending.data.node.deliveries.edges.map((e: { node: { eventType: string; status: string; attempts: number } }) => e.node);
    expect(before.map((d: { eventType: string }) => d.eventType).sort()).toEqual([
      'GENERATION_COMPLETED',
      'GENERATION_CREATED',
      'GENERATION_STARTED',
    ]);
    for (const d of before) expect(d).toMatchObject({ status: 'PENDING', attempts: 0 });
    expect(receiver.requests).toHaveLength(0);

    expect(await first.killGroup()).toBe('zombie');
    const second = await spawnServerGroup({ ...env, WEBHOOK_POLL_MS: '50' });
    servers.push(second);
    const received = await receiver.waitFor((all) => all.length >= 3);
    expect(received.map((r) => r.json.type).sort()).toEqual(['generation.completed', 'generation.created', 'generation.started']);
    for (const request of received) {
      expect(request.json.data.id).toBe(id);
      expect(verify(secret, request)).toEqual(request.json);
    }
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(3);
    expect(received.find((r) => r.json.type === 'generation.started')!.json.data.status).toBe('IN_PROGRESS');
    expect(second.output()).not.toContain(secret.slice('whsec_'.length));
    expect(first.output()).not.toContain(secret.slice('whsec_'.length));
  });
});
