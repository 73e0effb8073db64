import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createTempPostgresDatabase, POSTGRES_ADMIN_URL } from '../helpers/db.ts';
import { followToEnd, generateOk, rawGenerationId, simulatorLogs } from '../helpers/generation.ts';
import { collect, disposeClients, EVENTS_SUBSCRIPTION, wsClient } from '../helpers/graphql.ts';
import { until } from '../helpers/until.ts';

let server: TestServer | null = null;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await server?.dispose();
  server = null;
  for (const fn of cleanups.splice(0)) await fn();
});

/** Nothing lost: every log once and in order, one terminal state, the output archived, one submit. */
async function expectNothingLost(s: TestServer, id: string, falRequestId: string, submits = 1) {
  const { generation } = await followToEnd(s, id);
  expect(generation.status).toBe('COMPLETED');
  expect(generation.logs.map((l: { message: string }) => l.message)).toEqual(simulatorLogs(s, falRequestId));
  await s.running.archiver.settled(rawGenerationId(id));
  const { video } = (await followToEnd(s, id)).generation;
  expect(video.archiveStatus).toBe('ARCHIVED');
  expect(s.sim.stats.submits).toBe(submits);
  return generation;
}

describe('fault injection through the real fal client', () => {
  it.each([
    ['429', 429],
    ['503', 503],
  ])('rides out %s bursts on submit, status and result', async (_name, status) => {
    server = await startTestServer({ behaviour: { logCount: 3 } });
    const body = { detail: 'slow down' };
    server.sim.failNext('submit', { status, body }, 2);
    server.sim.failNext('status', { status, body }, 2);
    server.sim.failNext('result', { status, body }, 2);
    const g = await generateOk(server);
    await expectNothingLost(server, g.id, g.falRequestId!, 3);
  });

  it('follows a stream that never closes after COMPLETED (the safety poll ends it)', async () => {
    server = await startTestServer({ behaviour: { logCount: 3, streamNeverCloses: true } });
    const g = await generateOk(server);
    await expectNothingLost(server, g.id, g.falRequestId!);
  });

  it('keeps 200 generations in flight at once, all completing, with a consistent database', async () => {
    server = await startTestServer({ behaviour: { logCount: 2, queuePosition: 1 } });
    const s = server;
    const generations = await Promise.all(Array.from({ length: 200 }, (_, i) => generateOk(s, { prompt: `clip ${i}` })));
    const clients = Array.from({ length: 4 }, () => wsClient(s.url));
    try {
      await Promise.all(generations.map((g, i) => collect(clients[i % 4], EVENTS_SUBSCRIPTION, { id: g.id }).done));
    } finally {
      await disposeClients(clients);
    }
    const prisma = s.running.database.prisma;
    expect(await prisma.generation.count({ where: { status: 'COMPLETED' } })).toBe(200);
    expect(await prisma.videoOutput.count()).toBe(200);
    expect(s.sim.stats.submits).toBe(200);
    const rows = await prisma.generation.findMany({ include: { events: { orderBy: { sequence: 'asc' } } } });
    for (const row of rows) {
      expect(row.events.map((e) => e.sequence)).toEqual(row.events.map((_, i) => i + 1));
      expect(row.lastSequence).toBe(row.events.length);
      expect(row.events.filter((e) => e.status === 'COMPLETED')).toHaveLength(1);
      expect(row.events.filter((e) => e.kind === 'LOG').map((e) => e.logMessage)).toEqual(simulatorLogs(s, row.falRequestId!));
    }
  });
});

describe('the database briefly unavailable (PostgreSQL)', () => {
  it('recovers the tracker when every connection is cut and refused for a while', async () => {
    const temp = await createTempPostgresDatabase();
    cleanups.push(() => temp.drop());
    server = await startTestServer({
      behaviour: { logCount: 10, logIntervalMs: 100, queuePosition: 1 },
      env: { DATABASE_URL: temp.url, DATABASE_POOL_SIZE: '4' },
    });
    expect(server.running.database.kind).toBe('postgres');
    const s = server;
    const g = await generateOk(s);
    const client = wsClient(s.url);
    await collect(client, EVENTS_SUBSCRIPTION, { id: g.id }).waitUntil((r) => r.some((p) => p.data?.videoGenerationEvents?.log));
    await client.dispose();

    // What a PostgreSQL restart looks like from here: every connection dropped, new ones refused.
    const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE "${temp.name}" WITH ALLOW_CONNECTIONS false`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [
        temp.name,
      ]);
      // The outage itself lasts until fal has produced more log lines than the tracker could store.
      await until('fal to have produced 6 log lines', () => (s.sim.requests.get(g.falRequestId!)?.logs.length ?? 0) >= 6, {
        on: [[s.sim.events, 'log']],
      });
    } finally {
      await admin.query(`ALTER DATABASE "${temp.name}" WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await expectNothingLost(s, g.id, g.falRequestId!);
  });
});
