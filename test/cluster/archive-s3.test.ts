import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator } from '../../src/fal/simulator/index.ts';
import { instanceEnv } from '../helpers/cluster.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { collect, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';

const FAL_KEY = 'archive-cluster-key:secret';
const sample = await readFile(new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url));
let sim: FalSimulator;
let s3: TestS3;
let database: Awaited<ReturnType<typeof createTempPostgresDatabase>>;
let dataDir: string;
const processes: ServerProcess[] = [];

async function startInstance(name: string): Promise<ServerProcess> {
  const server = await spawnServer({
    ...(await instanceEnv({ name, dataDir, databaseUrl: database.url, falUrl: sim.url, falKey: FAL_KEY, poolSize: 3 })),
    ...s3.env('cluster'),
  });
  processes.push(server);
  return server;
}

beforeAll(async () => {
  sim = createFalSimulator({ preset: 'fast', expectedKey: FAL_KEY, behaviour: { logCount: 1 } });
  await sim.start();
  s3 = await startS3();
  database = await createTempPostgresDatabase();
  dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-archive-cluster-'));
}, 60_000);

afterAll(async () => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  await Promise.all(processes.map((p) => p.exited));
  await sim?.stop();
  await s3?.dispose();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

const UPDATED = /* GraphQL */ `subscription { videoGenerationUpdated { id video { archiveStatus } } }`;
const VIDEO = /* GraphQL */ `query($id: ID!) { videoGeneration(id: $id) { id video { url archiveStatus sha256 } } }`;

describe('two instances on one PostgreSQL and one bucket, each with its own DATA_DIR', () => {
  it("serves a video archived by one instance from the other, with Range, after fal's copy is gone", async () => {
    const [a, b] = await Promise.all([startInstance('a'), startInstance('b')]);
    const client = wsClient(a.url);
    try {
      const updates = collect<{ videoGenerationUpdated: { id: string; video: { archiveStatus: string } | null } }>(client, UPDATED);
      const created = await gql(a.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'archived on a' } });
      const id = created.data.generateVideo.generation.id as string;
      await updates.waitUntil((r) =>
        r.some((p) => p.data?.videoGenerationUpdated.id === id && p.data.videoGenerationUpdated.video?.archiveStatus === 'ARCHIVED'),
      );
      updates.cancel();

      await sim.stop();
      const onB = (await gql(b.url, VIDEO, { id })).data.videoGeneration.video;
      expect(onB.archiveStatus).toBe('ARCHIVED');
      expect(new URL(onB.url).origin).toBe(new URL(b.url).origin);
      const whole = await fetch(onB.url, { redirect: 'manual' });
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer()).equals(sample)).toBe(true);
      const part = await fetch(onB.url, { redirect: 'manual', headers: { range: 'bytes=0-99' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 0-99/${sample.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(sample.subarray(0, 100))).toBe(true);
      // Neither instance wrote a file of its own.
      expect(existsSync(join(dataDir, 'a', 'videos'))).toBe(false);
      expect(existsSync(join(dataDir, 'b', 'videos'))).toBe(false);
    } finally {
      await client.dispose();
    }
  }, 120_000);
});
