import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Database } from '../../src/db/index.ts';
import { createFalSimulator, type FalSimulator } from '../../src/fal/simulator/index.ts';
import { instanceEnv } from '../helpers/cluster.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { GENERATE, gql } from '../helpers/graphql.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { CREATE_ENDPOINT, startReceiver, verify, type Receiver } from './receiver.ts';

// Three instances on one PostgreSQL database, all polling the outbox every 20 ms so that they race for every
// delivery: each event is sent exactly once (one request per webhook-id, one recorded attempt per delivery).

const FAL_KEY = 'webhook-cluster-key:secret';
let sim: FalSimulator;
let database: Awaited<ReturnType<typeof createTempPostgresDatabase>>;
let db: Database;
let dataDir: string;
let receiver: Receiver;
const processes: ServerProcess[] = [];

beforeAll(async () => {
  sim = createFalSimulator({ preset: 'fast', expectedKey: FAL_KEY });
  await sim.start();
  database = await createTempPostgresDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-webhooks-cluster-'));
  receiver = await startReceiver();
}, 60_000);

afterAll(async () => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await db?.close();
  await receiver?.close();
  await sim?.stop();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function startInstance(name: string): Promise<ServerProcess> {
  const server = await spawnServer({
    ...(await instanceEnv({ name, dataDir, databaseUrl: database.url, falUrl: sim.url, falKey: FAL_KEY })),
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_POLL_MS: '20',
  });
  processes.push(server);
  return server;
}

describe('three instances on PostgreSQL', () => {
  it('send each event exactly once', { timeout: 180_000 }, async () => {
    const instances = await Promise.all(['a', 'b', 'c'].map((name) => startInstance(name)));
    const created = await gql(instances[0].url, CREATE_ENDPOINT, { input: { url: receiver.url } });
    const secret = registerSecret(created.data.createWebhookEndpoint.secret as string);

    const ids: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const submitted = await gql(instances[i % 3].url, GENERATE, {
        input: { imageUrl: 'https://example.com/a.png', prompt: `cluster ${i}` },
      });
      ids.push(submitted.data.generateVideo.generation.id as string);
    }
    await receiver.waitFor((all) => ids.every((id) => all.some((r) => r.json.data.id === id && r.json.type === 'generation.completed')));

    db = await createDb({ kind: 'postgres', url: database.url, poolSize: 2 });
    const deliveries = await db.prisma.webhookDelivery.findMany({ select: { id: true, eventType: true, generationId: true } });
    // created, started and completed for each generation.
    expect(deliveries).toHaveLength(18);
    await receiver.waitFor((all) => new Set(all.map((r) => r.headers['webhook-id'])).size === deliveries.length);
    // Every attempt is recorded once the instance that made it logs the outcome.
    await Promise.all(
      deliveries.map((d) =>
        Promise.any(instances.map((instance) => instance.waitForOutput(new RegExp(`"deliveryId":"${d.id}"[^\\n]*"status":"DELIVERED"`)))),
      ),
    );
    for (const d of deliveries) {
      const requests = receiver.requests.filter((r) => r.headers['webhook-id'] === d.id);
      expect(requests, `${d.eventType} of ${d.generationId}`).toHaveLength(1);
      expect(verify(secret, requests[0])).toEqual(requests[0].json);
    }
    const rows = await db.prisma.webhookDelivery.findMany({ include: { attemptLog: true } });
    for (const row of rows) {
      expect(row).toMatchObject({ status: 'DELIVERED', attempts: 1, lastStatusCode: 200 });
      expect(row.attemptLog).toHaveLength(1);
    }
    expect(receiver.requests).toHaveLength(18);
    const senders = new Set(rows.flatMap((row) => row.attemptLog.map((a) => a.instanceId)));
    expect([...senders].every((s) => ['a', 'b', 'c'].includes(s))).toBe(true);
  });
});
