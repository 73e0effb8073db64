import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/app.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { runKeysCli, spawnServer, spawnServerGroup, type GroupServer } from '../helpers/process.ts';
import { ServerInfoQuery } from '../../src/client/operations.ts';

let dataDir: string;
const servers: GroupServer[] = [];
const cleanups: Array<() => Promise<void>> = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-restart-'));
});
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop();
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(env: Record<string, string>) {
  const server = await spawnServerGroup({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: '3000', ...env });
  servers.push(server);
  return server;
}

async function expectReady(server: GroupServer) {
  const ready = await fetch(new URL('/readyz', server.url));
  expect(ready.status).toBe(200);
  const info = await gql(server.url, ServerInfoQuery);
  expect(info.data?.serverInfo.falBackend).toBe('SIMULATOR');
}

describe('the embedded database lock (PGlite)', () => {
  it(
    'lets a restart in at once after a SIGKILL of the whole process group, three times in a row, while its holder is a zombie',
    { timeout: 180_000 },
    async () => {
      const env = { PORT: String(await freePort()), FAL_BACKEND: 'simulator', SIMULATOR_PRESET: 'fast' };
      let server = await start(env);
      await expectReady(server);
      for (let round = 1; round <= 3; round += 1) {
        // The parent has not reaped it: a pid-based lock would still see this process as alive.
        expect(await server.killGroup()).toBe('zombie');
        server = await start(env);
        await expectReady(server);
      }
    },
  );

  it('refuses a second live process on the same DATA_DIR (server or keys CLI), naming the holder', { timeout: 90_000 }, async () => {
    const first = await start({ PORT: String(await freePort()), FAL_BACKEND: 'simulator', SIMULATOR_PRESET: 'fast' });
    await expect(spawnServer({ DATA_DIR: dataDir, PORT: String(await freePort()), FAL_BACKEND: 'simulator' })).rejects.toThrow(
      `in use by process ${first.pid}`,
    );
    const keys = await runKeysCli(['list'], { DATA_DIR: dataDir });
    expect(keys.code).toBe(1);
    expect(keys.stderr).toContain(
      `the embedded database in ${join(dataDir, 'pglite')} is in use by process ${first.pid}; stop that server first`,
    );
    await expectReady(first);

    // Once the holder is dead (even unreaped) the CLI gets in at once.
    expect(await first.killGroup()).toBe('zombie');
    const after = await runKeysCli(['list'], { DATA_DIR: dataDir });
    expect(after.stderr).toBe('');
    expect(after.code).toBe(0);
  });
});

describe('keyless restarts (the built-in simulator)', () => {
  it(
    'a generation in flight when the process group is SIGKILLed completes after a restart, its video archived',
    { timeout: 180_000 },
    async () => {
      // TEST_DATABASE=postgres keeps the generations in PostgreSQL; the simulator's jobs stay in DATA_DIR either way.
      const postgres = process.env.TEST_DATABASE === 'postgres' ? await createTempPostgresDatabase() : null;
      if (postgres) cleanups.push(() => postgres.drop());
      const env = {
        ...(postgres ? { DATABASE_URL: postgres.url } : {}),
        PORT: String(await freePort()),
        FAL_BACKEND: 'simulator',
        SIMULATOR_PRESET: 'realistic',
        FAL_POLL_INTERVAL_MS: '200',
        // The killed process cannot hand its tracking lease back: short leases keep the take-over wait short.
        LEASE_TTL_MS: '3000',
        LEASE_SCAN_MS: '500',
      };
      const first = await start(env);
      const submitted = await gql(first.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'outlive the process' } });
      const { id } = submitted.data.generateVideo.generation as { id: string };
      const before = wsClient(first.url);
      const running = collect(before, EVENTS_SUBSCRIPTION, { id });
      await running.waitUntil((received) => received.some((p) => p.data?.videoGenerationEvents?.log));
      expect(await first.killGroup()).toBe('zombie');
      await running.done.catch(() => undefined);
      await before.dispose();

      const second = await start(env);
      const client = wsClient(second.url);
      try {
        const updates = collect(client, 'subscription { videoGenerationUpdated { id status video { archiveStatus } } }');
        const events = (await collect(client, EVENTS_SUBSCRIPTION, { id }).done).map((p) => p.data.videoGenerationEvents);
        expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
        expect(events.at(-1).status).toBe('COMPLETED');
        // Every line the realistic preset writes, once each and in order, though some came while nothing ran.
        expect(events.filter((e) => e.log).map((e) => e.log.message)).toEqual(
          [1, 2, 3, 4, 5, 6, 7, 8].map((n) => expect.stringContaining(`(${n}/8)`)),
        );

        const archived = async () => {
          const row = await gql(second.url, 'query($id: ID!) { videoGeneration(id: $id) { video { archiveStatus url } } }', { id });
          return row.data.videoGeneration.video as { archiveStatus: string; url: string } | null;
        };
        if ((await archived())?.archiveStatus !== 'ARCHIVED') {
          await updates.waitUntil((received) =>
            received.some(
              (p) => p.data?.videoGenerationUpdated?.id === id && p.data.videoGenerationUpdated.video?.archiveStatus === 'ARCHIVED',
            ),
          );
        }
        const video = await archived();
        expect(video?.archiveStatus).toBe('ARCHIVED');
        const file = await fetch(new URL(video!.url, second.url));
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe('video/mp4');
      } finally {
        await client.dispose();
      }
    },
  );
});
