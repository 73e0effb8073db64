import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator } from '../../src/fal/simulator/index.ts';
import { instanceEnv } from '../helpers/cluster.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { collect, collectSse, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { eventsOf, type GenerationEventPayload } from '../helpers/generation.ts';

const FAL_KEY = 'cluster-key:secret';
let sim: FalSimulator;
let redis: TestRedis;
let database: Awaited<ReturnType<typeof createTempPostgresDatabase>>;
let dataDir: string;
const processes: ServerProcess[] = [];

async function startInstance(name: string): Promise<ServerProcess> {
  const server = await spawnServer({
    ...(await instanceEnv({ name, dataDir, databaseUrl: database.url, falUrl: sim.url, falKey: FAL_KEY })),
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    // Long enough that a renewal starved for seconds by a loaded machine does not lose the lease (4 s did: the
    // 500-generation test then saw a second tracker take generations over); the take-over test waits about this.
    LEASE_TTL_MS: '10000',
    LEASE_SCAN_MS: '250',
    SUBSCRIPTION_REPAIR_MS: '500',
  });
  processes.push(server);
  return server;
}
const prefix = `reelgraph-test-${randomBytes(4).toString('hex')}:`;

beforeAll(async () => {
  sim = createFalSimulator({ preset: 'fast', expectedKey: FAL_KEY, behaviour: { queuePosition: 1, logCount: 6, logIntervalMs: 80 } });
  await sim.start();
  redis = await startRedis();
  database = await createTempPostgresDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-cluster-'));
}, 60_000);

afterAll(async () => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await sim?.stop();
  await redis?.stop();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

function expectComplete(list: GenerationEventPayload[], falRequestId: string) {
  expect(list.map((e) => e.sequence)).toEqual(list.map((_, i) => i + 1));
  expect(list.at(-1)!.status).toBe('COMPLETED');
  expect(list.filter((e) => e.log).map((e) => e.log!.message)).toEqual(sim.requests.get(falRequestId)!.logs.map((l) => l.message));
}

describe('three instances on one PostgreSQL and one Redis', () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let c: ServerProcess;

  it('start together, applying migrations exactly once', async () => {
    [a, b, c] = await Promise.all([startInstance('a'), startInstance('b'), startInstance('c')]);
    for (const instance of [a, b, c]) {
      expect(await (await fetch(instance.url.replace('/graphql', '/healthz'))).json()).toEqual({ status: 'ok' });
      const ready = await fetch(instance.url.replace('/graphql', '/readyz'));
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { database: true, migrations: true, redis: true } });
    }
    const applied = [a, b, c].map((p) => /applied (\d+) migration/.exec(p.output())?.[1] ?? '0').map(Number);
    expect(applied.filter((n) => n > 0)).toHaveLength(1);
  });

  it('tracks a generation submitted on A exactly once while B (graphql-ws) and C (SSE) follow it', async () => {
    const created = await gql(a.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'cluster' } });
    const g = created.data.generateVideo.generation;
    const client = wsClient(b.url);
    try {
      const [viaWs, viaSse] = await Promise.all([
        collect(client, EVENTS_SUBSCRIPTION, { id: g.id }).done,
        collectSse(c.url, EVENTS_SUBSCRIPTION, { id: g.id }),
      ]);
      expectComplete(eventsOf(viaWs), g.falRequestId);
      expectComplete(eventsOf(viaSse as never), g.falRequestId);
    } finally {
      await client.dispose();
    }
    expect(sim.requests.get(g.falRequestId)!.streamConnections).toBe(1);
  });

  it('returns one generation for one idempotency key retried concurrently on different instances', async () => {
    const submits = sim.stats.submits;
    const input = { imageUrl: 'https://example.com/a.png', prompt: 'once only', idempotencyKey: `cluster-${prefix}` };
    const results = await Promise.all([a, b, c, a, b, c].map((instance) => gql(instance.url, GENERATE, { input })));
    const ids = new Set(results.map((r) => r.data.generateVideo.generation.id));
    expect(ids.size).toBe(1);
    expect(sim.stats.submits).toBe(submits + 1);
  });

  it('moves tracking to another instance when A is killed with SIGKILL mid-generation', async () => {
    sim.configure({ logCount: 12, logIntervalMs: 150 });
    const created = await gql(a.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'take over' } });
    const g = created.data.generateVideo.generation;
    const client = wsClient(b.url);
    try {
      const viaB = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
      const viaC = collectSse(c.url, EVENTS_SUBSCRIPTION, { id: g.id });
      await viaB.waitUntil((r) => r.filter((p) => p.data?.videoGenerationEvents.log).length >= 2);
      const killedAt = Date.now();
      a.child.kill('SIGKILL');
      await a.exited;
      const [fromB, fromC] = await Promise.all([viaB.done, viaC]);
      expectComplete(eventsOf(fromB), g.falRequestId);
      expectComplete(eventsOf(fromC as never), g.falRequestId);
      const takeoverMs = Date.now() - killedAt;
      expect(takeoverMs).toBeLessThan(30_000);
    } finally {
      await client.dispose();
    }
    expect(sim.stats.submits).toBe(3);
  });

  it('subscribers recover without gaps when Redis restarts mid-stream', async () => {
    sim.configure({ logCount: 12, logIntervalMs: 150 });
    const created = await gql(b.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'redis restart' } });
    const g = created.data.generateVideo.generation;
    const client = wsClient(c.url);
    try {
      const viaC = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
      await viaC.waitUntil((r) => r.filter((p) => p.data?.videoGenerationEvents.log).length >= 2);
      await redis.restart();
      expectComplete(eventsOf(await viaC.done), g.falRequestId);
    } finally {
      await client.dispose();
    }
  });

  it('completes 500 generations spread over the instances, each with exactly one tracker', async () => {
    sim.configure({ logCount: 1, logIntervalMs: 5, queuePosition: 0 });
    const instances = [b, c];
    const before = new Set(sim.requests.keys());
    const created = [];
    for (let batch = 0; batch < 10; batch += 1) {
      created.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            gql(instances[(batch * 50 + i) % instances.length].url, GENERATE, {
              input: { imageUrl: 'https://example.com/a.png', prompt: `bulk ${batch}-${i}` },
            }),
          ),
        )),
      );
    }
    const ids = created.map((r) => r.data.generateVideo.generation.id as string);
    expect(new Set(ids).size).toBe(500);
    const client = wsClient(c.url);
    try {
      await Promise.all(ids.map((id) => collect(client, EVENTS_SUBSCRIPTION, { id }).done));
    } finally {
      await client.dispose();
    }
    const mine = [...sim.requests.values()].filter((r) => !before.has(r.id));
    expect(mine).toHaveLength(500);
    expect(mine.every((r) => r.status === 'COMPLETED')).toBe(true);
    const doubled = mine.filter((r) => r.streamConnections !== 1);
    const warnings = [b, c].flatMap((p) =>
      p
        .output()
        .split('\n')
        .filter((l) => doubled.some((r) => l.includes(r.id)) || /"level":"warn"/.test(l)),
    );
    expect(
      doubled.map((r) => r.streamConnections),
      warnings.slice(-20).join('\n'),
    ).toEqual([]);
  }, 180_000);
});
