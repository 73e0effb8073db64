import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator } from '../../src/fal/simulator/index.ts';
import { freePort } from '../helpers/app.ts';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { followToEnd, generateOk } from '../helpers/generation.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';
import { until } from '../helpers/until.ts';

const FAL_KEY = 'fal-key-id:never-print-this-secret';
let sim: FalSimulator;
let dataDir: string;
const children: ServerProcess[] = [];

beforeEach(async () => {
  sim = createFalSimulator({ preset: 'fast', behaviour: { queuePosition: 1, logCount: 8, logIntervalMs: 120 }, expectedKey: FAL_KEY });
  await sim.start();
  dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-proc-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await child.exited;
  }
  await sim.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(port: number) {
  const server = await spawnServer({
    PORT: String(port),
    DATA_DIR: dataDir,
    FAL_KEY,
    FAL_QUEUE_URL: sim.url,
    FAL_REST_URL: sim.url,
    FAL_POLL_INTERVAL_MS: '100',
    SHUTDOWN_TIMEOUT_MS: '3000',
    // A SIGKILLed process cannot hand its tracking lease back: the next start takes it over once it expires.
    // Short leases keep that wait (TTL plus a scan) at a few seconds instead of twenty.
    LEASE_TTL_MS: '3000',
    LEASE_SCAN_MS: '500',
  });
  children.push(server);
  return server;
}

// Each test starts the real server twice (a child process each, with migrations and a simulator): on a busy 2-core
// machine that alone can take most of vitest's default 30 s.
describe('the real server process', { timeout: 90_000 }, () => {
  it('loses nothing when killed with SIGKILL mid-generation and started again', async () => {
    const port = await freePort();
    const first = await start(port);
    const g = await generateOk(first);
    const client = wsClient(first.url);
    const watching = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
    await watching.waitUntil((r) => r.filter((p) => p.data.videoGenerationEvents.log).length >= 2);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await watching.done.catch(() => undefined);
    await client.dispose();

    const second = await start(port);
    const { events } = await followToEnd(second, g.id);
    expect(events.at(-1).status).toBe('COMPLETED');
    const logs = events.filter((e) => e.log).map((e) => e.log.message);
    expect(logs).toEqual(sim.requests.get(g.falRequestId!)!.logs.map((l) => l.message));
    expect(sim.stats.submits).toBe(1);
    for (const child of [first, second]) expect(child.output()).not.toContain('never-print-this-secret');
  });

  it('shuts down gracefully on SIGTERM (WebSockets closed with 1001, exit 0) and resumes on the next start', async () => {
    sim.configure({ pauseBefore: 'COMPLETED' });
    const port = await freePort();
    const first = await start(port);
    const g = await generateOk(first);
    const closeCode = new Promise<number>((resolve) => {
      const client = wsClient(first.url);
      const watching = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
      client.on('closed', (event) => resolve((event as { code: number }).code));
      void watching.done.catch(() => undefined);
    });
    // Wait until the generation is running, so the shutdown happens mid-generation.
    await until('the generation to be running (8 log lines at fal)', () => sim.requests.get(g.falRequestId!)?.logs.length === 8, {
      on: [[sim.events, 'log']],
    });
    // A mutation still in flight when the signal comes (fal's first answer is a 503 the client retries
    // after about a second) is finished, not cut off.
    sim.failNext('submit', { status: 503, body: { detail: 'busy' } }, 1);
    const faultServed = once(sim.events, 'fault');
    const inFlight = gql(first.url, GENERATE, { input: { imageUrl: 'https://example.com/b.png', prompt: 'in flight' } });
    await faultServed;
    const startedAt = Date.now();
    first.child.kill('SIGTERM');
    const finished = await inFlight;
    expect(finished.data.generateVideo.__typename).toBe('GenerateVideoSuccess');
    expect(await closeCode).toBe(1001);
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(first.output()).toContain('SIGTERM received');

    const second = await start(port);
    const status = await gql(second.url, `query($id: ID!) { videoGeneration(id: $id) { status } }`, { id: g.id });
    expect(status.data.videoGeneration.status).toBe('IN_PROGRESS');
    sim.resume(g.falRequestId!);
    const { events } = await followToEnd(second, g.id);
    expect(events.at(-1).status).toBe('COMPLETED');
    expect(events.filter((e) => e.log)).toHaveLength(8);
  });
});
