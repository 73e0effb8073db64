/**
 * Scale-out benchmark (not a test): N server processes on one PostgreSQL and one Redis, compared in the same run
 * with a single instance (`BENCH_CLUSTER_INSTANCES=1,3`, the default). Each scenario: a fresh database and Redis
 * prefix, an API key (as any deployment others can reach), 200 in-flight generations with 10 graphql-ws
 * subscribers each (2,000) spread over every instance, the simulator emitting 40 log lines per generation as fast
 * as its timers allow once every subscriber has its history. Reports deliveries per second, delivery latency
 * (simulator emitting a line -> subscriber receiving it), ingest latency (fal's timestamp -> database row), peak
 * RSS and CPU per instance, upstream streams per generation, Redis PUBLISH commands per upstream event (one per
 * write batch, never one per event), and the recovery time after SIGKILL: with several instances, lease take-over
 * (another instance picks the generation up; a subscriber on it sees the next line); with one, a restart of the
 * process on the same data (the subscriber reconnects with afterSequence).
 *
 *   npm run bench:cluster            (needs the local PostgreSQL and Redis, see environment.md)
 *   BENCH_GENERATIONS=50 BENCH_SUBSCRIBERS_PER=4 BENCH_CLUSTER_INSTANCES=3 npm run bench:cluster   (a smaller run)
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { createFalSimulator } from '../src/fal/simulator/index.ts';
import { freePort } from '../test/helpers/app.ts';
import { createTempPostgresDatabase, type TempPostgresDatabase } from '../test/helpers/db.ts';
import { NO_LIMITS } from '../test/helpers/limits.ts';
import { spawnServer, type ServerProcess } from '../test/helpers/process.ts';
import { writeResult } from './lib/results.ts';
import { cpuSeconds, envInt, envList, machine, percentile, round } from './lib/util.ts';

const GENERATIONS = envInt('BENCH_GENERATIONS', 200);
const SUBSCRIBERS_PER = envInt('BENCH_SUBSCRIBERS_PER', 10);
const LOGS_PER = envInt('BENCH_LOGS_PER', 40);
const INSTANCES = envList('BENCH_CLUSTER_INSTANCES', [1, 3]);
const CONNECTIONS = 60;
const FAL_KEY = 'bench-key';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEYS_CLI = fileURLToPath(new URL('../src/cli/keys.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();

// Every generation waits until all its subscribers are in place, then logs as fast as timers allow.
const LOAD = { queuePosition: 0, logCount: LOGS_PER, logIntervalMs: 1, completeDelayMs: 1, pauseBefore: 'IN_PROGRESS' } as const;
const sim = createFalSimulator({ preset: 'fast', expectedKey: FAL_KEY, behaviour: LOAD });
await sim.start();
const emittedAt = new Map<string, number>();
sim.events.on('log', (request: { id: string }, line: { message: string }) => emittedAt.set(`${request.id}|${line.message}`, now()));
const redis = new Redis(REDIS_URL);

/** Redis PUBLISH commands served so far (every client of this Redis; nothing else should run during the bench). */
async function publishes(): Promise<number> {
  const info = await redis.info('commandstats');
  return Number(/cmdstat_publish:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const EVENTS =
  'subscription($id: ID!, $after: Int) { videoGenerationEvents(id: $id, afterSequence: $after) { sequence ... on VideoGenerationLogEvent { log { message } } } }';
const GENERATE =
  'mutation($i: GenerateVideoInput!) { generateVideo(input: $i) { ... on GenerateVideoSuccess { generation { id falRequestId } } } }';

async function scenario(count: number) {
  sim.configure(LOAD);
  const database: TempPostgresDatabase = await createTempPostgresDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-bench-cluster-'));
  const base = {
    ...NO_LIMITS,
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '10',
    REDIS_URL,
    REDIS_PREFIX: `reelgraph-bench-${randomBytes(4).toString('hex')}:`,
    FAL_KEY,
    FAL_QUEUE_URL: sim.url,
    FAL_REST_URL: sim.url,
    NODE_ENV: 'production',
  };
  // The key is created (and the database migrated) before any instance starts.
  const { stdout } = await promisify(execFile)(process.execPath, [KEYS_CLI, 'create', '--tenant', 'default', '--name', 'bench', '--json'], {
    env: { ...process.env, ...base, DATA_DIR: join(dataDir, 'keys'), PORT: '0' },
  });
  const authorization = `Bearer ${(JSON.parse(stdout) as { key: string }).key}`;
  const instances: ServerProcess[] = [];
  const clients: Client[] = [];
  const start = async (name: string, port?: number) => {
    const server = await spawnServer({
      ...base,
      PORT: String(port ?? (await freePort())),
      DATA_DIR: join(dataDir, name),
      INSTANCE_ID: name,
    });
    instances.push(server);
    return server;
  };
  const connect = (server: ServerProcess) => {
    const client = createClient({
      url: server.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
    });
    clients.push(client);
    return client;
  };
  try {
    const names = Array.from({ length: count }, (_, i) => String.fromCharCode(97 + i));
    const servers = await Promise.all(names.map((name) => start(name)));
    const pool = Array.from({ length: CONNECTIONS }, (_, i) => connect(servers[i % count]));

    const generations: Array<{ id: string; falRequestId: string }> = [];
    for (let i = 0; i < GENERATIONS; i += 1) {
      const response = await fetch(servers[i % count].url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: GENERATE, variables: { i: { imageUrl: 'https://example.com/a.png', prompt: `bench ${i}` } } }),
      });
      const body = (await response.json()) as { data?: { generateVideo: { generation?: { id: string; falRequestId: string } } } };
      const generation = body.data?.generateVideo.generation;
      if (!generation) throw new Error(`generateVideo failed: ${JSON.stringify(body).slice(0, 300)}`);
      generations.push(generation);
    }

    const latencies: number[] = [];
    let deliveries = 0;
    const done: Array<Promise<void>> = [];
    const subscribed: Array<Promise<void>> = [];
    let c = 0;
    for (const g of generations) {
      for (let s = 0; s < SUBSCRIBERS_PER; s += 1) {
        const client = pool[c++ % pool.length];
        let first: () => void = () => {};
        subscribed.push(new Promise<void>((resolve) => (first = resolve)));
        done.push(
          new Promise<void>((resolve, reject) => {
            client.subscribe(
              { query: EVENTS, variables: { id: g.id } },
              {
                next: (value) => {
                  first();
                  const message = (value.data as { videoGenerationEvents: { log?: { message: string } } }).videoGenerationEvents.log
                    ?.message;
                  if (!message) return;
                  const at = emittedAt.get(`${g.falRequestId}|${message}`);
                  deliveries += 1;
                  if (at !== undefined) latencies.push(now() - at);
                },
                error: reject,
                complete: resolve,
              },
            );
          }),
        );
      }
    }
    await Promise.all(subscribed); // every subscriber has its history (PENDING, IN_QUEUE) before fal starts
    const cpu0 = servers.map((s) => cpuSeconds(s.child.pid!));
    const publishes0 = await publishes();
    const started = performance.now();
    let peakRss = servers.map(() => 0);
    const sampler = setInterval(() => {
      void Promise.all(servers.map((s) => rssMb(s.child.pid!))).then((rss) => (peakRss = rss.map((r, i) => Math.max(r, peakRss[i]))));
    }, 200);
    for (const g of generations) sim.resume(g.falRequestId);
    await Promise.all(done);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const redisPublishes = (await publishes()) - publishes0;
    const cpu = servers.map((s, i) => round(cpuSeconds(s.child.pid!) - cpu0[i], 1));
    const streams = generations.map((g) => sim.requests.get(g.falRequestId)?.streamConnections ?? 0);

    // Ingest latency: from fal's log timestamp (the simulator's emission) to the row being written.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const ingest = (
      await client.query<{ ms: number }>(
        `SELECT EXTRACT(EPOCH FROM ("createdAt" - "logTimestamp")) * 1000 AS ms FROM "GenerationEvent" WHERE kind = 'LOG' ORDER BY 1`,
      )
    ).rows.map((r) => Number(r.ms));
    await client.end();
    // Recovery after SIGKILL, for a slow generation tracked by the first instance.
    sim.configure({ pauseBefore: undefined, logCount: 100, logIntervalMs: 100, queuePosition: 0 });
    const [a] = servers;
    const slow = (await (
      await fetch(a.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: GENERATE, variables: { i: { imageUrl: 'https://example.com/a.png', prompt: 'takeover' } } }),
      })
    ).json()) as { data: { generateVideo: { generation: { id: string } } } };
    const slowId = slow.data.generateVideo.generation.id;
    const recoveryMs = await measureRecovery(count, servers, slowId, connect, start);

    const sorted = latencies.sort((x, y) => x - y);
    const warnings = instances.flatMap((server) =>
      server
        .output()
        .split('\n')
        .filter((line) => /"level":(40|50)|"level":"(warn|error)"/.test(line)),
    );
    return {
      instances: count,
      generations: GENERATIONS,
      subscribers: GENERATIONS * SUBSCRIBERS_PER,
      logLinesPerGeneration: LOGS_PER,
      deliveries,
      seconds: round(seconds, 2),
      deliveriesPerSecond: Math.round(deliveries / seconds),
      upstreamEventsPerSecond: Math.round((GENERATIONS * LOGS_PER) / seconds),
      latencyMs: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? NaN) },
      ingestLatencyMs: { p50: round(percentile(ingest, 50)), p99: round(percentile(ingest, 99)) },
      serverCpuSeconds: cpu,
      peakRssMbPerInstance: peakRss.map((r) => Math.round(r)),
      upstreamStreamsPerGeneration: { min: Math.min(...streams), max: Math.max(...streams) },
      redisPublishes,
      redisPublishesPerUpstreamEvent: round(redisPublishes / (GENERATIONS * LOGS_PER), 3),
      recovery: count > 1 ? 'lease take-over' : 'restart',
      recoveryMsAfterSigkill: Math.round(recoveryMs),
      warnings: warnings.length,
      firstWarnings: warnings.slice(0, 5),
    };
  } finally {
    await Promise.all(
      clients.map(async (client) => {
        await client.dispose();
      }),
    );
    for (const p of instances) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(instances.map((p) => p.exited));
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Kills the first instance after the slow generation's third line reaches a subscriber, and times until the next
 * line arrives: on another instance (take-over), or, with one instance, on the restarted process (same port and data).
 */
async function measureRecovery(
  count: number,
  servers: ServerProcess[],
  id: string,
  connect: (server: ServerProcess) => Client,
  start: (name: string, port?: number) => Promise<ServerProcess>,
): Promise<number> {
  const [a] = servers;
  const watchOn = count > 1 ? servers[1] : a;
  let killedAt = 0;
  let lastSequence = 0;
  let logsSeen = 0;
  await new Promise<void>((resolve, reject) => {
    connect(watchOn).subscribe(
      { query: EVENTS, variables: { id } },
      {
        next: (value) => {
          const event = (value.data as { videoGenerationEvents: { sequence: number; log?: unknown } }).videoGenerationEvents;
          lastSequence = event.sequence;
          if (!event.log) return;
          logsSeen += 1;
          if (logsSeen === 3) {
            killedAt = performance.now();
            a.child.kill('SIGKILL');
            if (count === 1) resolve();
          } else if (killedAt && logsSeen > 3) resolve();
        },
        error: (error) => (count === 1 && killedAt ? resolve() : reject(error instanceof Error ? error : new Error(String(error)))),
        complete: () => (count === 1 && killedAt ? resolve() : reject(new Error('completed before the kill'))),
      },
    );
  });
  if (count > 1) return performance.now() - killedAt;
  await a.exited;
  const port = new URL(a.url).port;
  const restarted = await start('a', Number(port));
  await new Promise<void>((resolve, reject) => {
    connect(restarted).subscribe(
      { query: EVENTS, variables: { id, after: lastSequence } },
      {
        next: (value) => {
          if ((value.data as { videoGenerationEvents: { log?: unknown } }).videoGenerationEvents.log) resolve();
        },
        error: (error) => reject(error instanceof Error ? error : new Error(String(error))),
        complete: () => reject(new Error('completed before a line after the restart')),
      },
    );
  });
  return performance.now() - killedAt;
}

try {
  const rows = [];
  for (const count of INSTANCES) {
    console.log(`\n== ${count} instance(s)`);
    const row = await scenario(count);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  const single = rows.find((r) => r.instances === 1);
  console.log('\ninstances  deliveries/s  p50 ms     p99 ms     redis PUBLISH/event  recovery after SIGKILL');
  for (const r of rows) {
    const vs =
      single && r !== single
        ? ` (${round(r.deliveriesPerSecond / single.deliveriesPerSecond, 2)}x, p99 ${round(r.latencyMs.p99 / single.latencyMs.p99, 2)}x)`
        : '';
    console.log(
      `${String(r.instances).padEnd(11)}${String(r.deliveriesPerSecond).padEnd(14)}${String(r.latencyMs.p50).padEnd(11)}${String(r.latencyMs.p99).padEnd(11)}${String(r.redisPublishesPerUpstreamEvent).padEnd(21)}${r.recoveryMsAfterSigkill} ms (${r.recovery})${vs}`,
    );
  }
  await writeResult('cluster', { machine: machine(), date: new Date().toISOString(), rows });
} finally {
  redis.disconnect();
  await sim.stop();
}
