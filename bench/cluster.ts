/**
 * Scale-out load benchmark (not a test): three server processes on one PostgreSQL and one Redis, 200
 * in-flight generations with 10 graphql-ws subscribers each (2,000), the simulator emitting log lines as
 * fast as it can. Reports delivery latency from the simulator emitting an event to a subscriber receiving
 * it, deliveries per second, RSS per instance, and the lease take-over time after SIGKILL.
 *
 *   npm run bench:cluster            (needs the local PostgreSQL and Redis, see environment.md)
 *   BENCH_GENERATIONS=50 BENCH_SUBSCRIBERS_PER=4 npm run bench:cluster   (a smaller run)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { createFalSimulator } from '../src/fal/simulator/index.ts';
import { freePort } from '../test/helpers/app.ts';
import { createTempPostgresDatabase } from '../test/helpers/db.ts';
import { spawnServer, type ServerProcess } from '../test/helpers/process.ts';

const GENERATIONS = Number(process.env.BENCH_GENERATIONS ?? 200);
const SUBSCRIBERS_PER = Number(process.env.BENCH_SUBSCRIBERS_PER ?? 10);
const LOGS_PER = Number(process.env.BENCH_LOGS_PER ?? 40);
const CONNECTIONS_PER_INSTANCE = 20;
const FAL_KEY = 'bench-key';

const sim = createFalSimulator({
  preset: 'fast',
  expectedKey: FAL_KEY,
  // Every generation waits until all its subscribers are in place, then logs as fast as timers allow.
  behaviour: { queuePosition: 0, logCount: LOGS_PER, logIntervalMs: 1, completeDelayMs: 1, pauseBefore: 'IN_PROGRESS' },
});
await sim.start();
const database = await createTempPostgresDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-bench-'));
const prefix = `reelgraph-bench-${randomBytes(4).toString('hex')}:`;
const instances: ServerProcess[] = [];
const clients: Client[] = [];

const emittedAt = new Map<string, number>();
sim.events.on('log', (request: { id: string }, line: { message: string }) =>
  emittedAt.set(`${request.id}|${line.message}`, performance.timeOrigin + performance.now()),
);

async function startInstance(name: string, env: Record<string, string> = {}) {
  const server = await spawnServer({
    PORT: String(await freePort()),
    DATA_DIR: join(dataDir, name),
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '10',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: prefix,
    INSTANCE_ID: name,
    FAL_KEY,
    FAL_QUEUE_URL: sim.url,
    FAL_REST_URL: sim.url,
    ...(process.env.BENCH_PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } : {}),
    ...env,
  });
  instances.push(server);
  return server;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

try {
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => startInstance(n)));
  for (const server of servers) {
    for (let i = 0; i < CONNECTIONS_PER_INSTANCE; i += 1) {
      // Connections to the instance killed at the end close abruptly; that is expected, not worth a print.
      clients.push(
        createClient({
          url: server.url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: () => {},
        }),
      );
    }
  }

  // Submit round-robin over the instances.
  const generations: Array<{ id: string; falRequestId: string }> = [];
  for (let i = 0; i < GENERATIONS; i += 1) {
    const response = await fetch(servers[i % 3].url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation($i: GenerateVideoInput!) { generateVideo(input: $i) { ... on GenerateVideoSuccess { generation { id falRequestId } } } }',
        variables: { i: { imageUrl: 'https://example.com/a.png', prompt: `bench ${i}` } },
      }),
    });
    generations.push(
      ((await response.json()) as { data: { generateVideo: { generation: { id: string; falRequestId: string } } } }).data.generateVideo
        .generation,
    );
  }

  const latencies: number[] = [];
  let deliveries = 0;
  const done: Array<Promise<void>> = [];
  const subscribed: Array<Promise<void>> = [];
  let c = 0;
  for (const g of generations) {
    for (let s = 0; s < SUBSCRIBERS_PER; s += 1) {
      const client = clients[c++ % clients.length];
      let first: () => void = () => {};
      subscribed.push(new Promise<void>((resolve) => (first = resolve)));
      done.push(
        new Promise<void>((resolve, reject) => {
          client.subscribe(
            {
              query:
                'subscription($id: ID!) { videoGenerationEvents(id: $id) { sequence ... on VideoGenerationLogEvent { log { message } } } }',
              variables: { id: g.id },
            },
            {
              next: (value) => {
                first();
                const message = (value.data as { videoGenerationEvents: { log?: { message: string } } }).videoGenerationEvents.log?.message;
                if (!message) return;
                const at = emittedAt.get(`${g.falRequestId}|${message}`);
                deliveries += 1;
                if (at !== undefined) latencies.push(performance.timeOrigin + performance.now() - at);
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
  const started = performance.now();
  let peakRss = [0, 0, 0];
  const sampler = setInterval(() => {
    void Promise.all(servers.map((s) => rssMb(s.child.pid!))).then((rss) => (peakRss = rss.map((r, i) => Math.max(r, peakRss[i]))));
  }, 200);
  for (const g of generations) sim.resume(g.falRequestId);
  await Promise.all(done);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const streams = [...sim.requests.values()].map((r) => r.streamConnections);

  // Lease take-over: a slow generation tracked by A; kill A; time until a subscriber on B sees the next line.
  sim.configure({ pauseBefore: undefined, logCount: 100, logIntervalMs: 100, queuePosition: 0 });
  const [a, b] = servers;
  const slow = (await (
    await fetch(a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation { generateVideo(input: { imageUrl: "https://example.com/a.png", prompt: "takeover" }) { ... on GenerateVideoSuccess { generation { id } } } }',
      }),
    })
  ).json()) as { data: { generateVideo: { generation: { id: string } } } };
  const watcher = createClient({ url: b.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
  clients.push(watcher);
  let killedAt = 0;
  let logsSeen = 0;
  const takeoverMs = await new Promise<number>((resolve, reject) => {
    watcher.subscribe(
      {
        query: 'subscription($id: ID!) { videoGenerationEvents(id: $id) { ... on VideoGenerationLogEvent { log { message } } } }',
        variables: { id: slow.data.generateVideo.generation.id },
      },
      {
        next: (value) => {
          if (!(value.data as { videoGenerationEvents: { log?: unknown } }).videoGenerationEvents.log) return;
          logsSeen += 1;
          if (logsSeen === 3) {
            killedAt = performance.now();
            a.child.kill('SIGKILL');
          } else if (killedAt && logsSeen > 3) resolve(performance.now() - killedAt);
        },
        error: reject,
        complete: () => reject(new Error('completed before take-over')),
      },
    );
  });

  // Ingest latency: from fal's log timestamp (the simulator's emission) to the row being written.
  const pool = new pg.Client({ connectionString: database.url });
  await pool.connect();
  const ingest = (
    await pool.query<{ ms: number }>(
      `SELECT EXTRACT(EPOCH FROM ("createdAt" - "logTimestamp")) * 1000 AS ms FROM "GenerationEvent" WHERE kind = 'LOG' ORDER BY 1`,
    )
  ).rows.map((r) => Number(r.ms));
  await pool.end();
  const sorted = latencies.sort((x, y) => x - y);
  const report = {
    date: new Date().toISOString(),
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    generations: GENERATIONS,
    subscribers: GENERATIONS * SUBSCRIBERS_PER,
    logLinesPerGeneration: LOGS_PER,
    deliveries,
    seconds: Number(seconds.toFixed(2)),
    deliveriesPerSecond: Math.round(deliveries / seconds),
    upstreamEventsPerSecond: Math.round((GENERATIONS * LOGS_PER) / seconds),
    ingestLatencyMs: { p50: Number(percentile(ingest, 50).toFixed(1)), p99: Number(percentile(ingest, 99).toFixed(1)) },
    latencyMs: {
      p50: Number(percentile(sorted, 50).toFixed(1)),
      p99: Number(percentile(sorted, 99).toFixed(1)),
      max: Number(sorted.at(-1)!.toFixed(1)),
    },
    peakRssMbPerInstance: peakRss.map((r) => Math.round(r)),
    upstreamStreamsPerGeneration: { min: Math.min(...streams), max: Math.max(...streams) },
    leaseTakeoverMsAfterSigkill: Math.round(takeoverMs),
  };
  console.log(JSON.stringify(report, null, 2));
  const warnings = servers.flatMap((server) =>
    server
      .output()
      .split('\n')
      .filter((line) => / (WARN|ERROR) /.test(line)),
  );
  if (warnings.length > 0) console.log(`instance warnings (${warnings.length}):\n${warnings.slice(0, 15).join('\n')}`);
} finally {
  await Promise.all(
    clients.map(async (client) => {
      await client.dispose();
    }),
  );
  for (const p of instances) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  await Promise.all(instances.map((p) => p.exited));
  await sim.stop();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
