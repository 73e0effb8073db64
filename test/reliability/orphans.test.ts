import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createFalClient } from '@fal-ai/client';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createTempPostgresDatabase, type TempPostgresDatabase } from '../helpers/db.ts';
import { followToEnd, generateOk, IMAGE, simulatorLogs } from '../helpers/generation.ts';
import { GENERATE, gql } from '../helpers/graphql.ts';
import { ENDPOINT, globalId, insertOrphan } from '../helpers/orphans.ts';

// Orphans (rows a crash left PENDING without a fal request id) are resolved while the server runs, on every
// instance: matched by their webhook, or failed with SUBMISSION_UNKNOWN after ORPHAN_AFTER_S. Before this,
// they were only looked at during start-up, and held their tenant's quota slot until the next restart.

const disposers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});
async function serve(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const server = await startTestServer(options);
  disposers.push(() => server.dispose());
  return server;
}

describe('orphan resolution while the server runs', () => {
  it('fails an orphan with SUBMISSION_UNKNOWN after ORPHAN_AFTER_S, frees its quota slot, and tells subscribers', async () => {
    const server = await serve({ env: { ORPHAN_AFTER_S: '1', LEASE_SCAN_MS: '100', QUOTA_MAX_CONCURRENT: '1' } });
    // Inserted after start-up, so only the periodic scan can resolve it.
    const orphan = await insertOrphan(server.running.database.prisma);
    const refused = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'waits for the slot' } });
    expect(refused.data.generateVideo.__typename).toBe('QuotaExceededError');

    const { events, generation } = await followToEnd(server, globalId(orphan.id));
    expect(events.map((e: { status?: string }) => e.status)).toEqual(['PENDING', 'FAILED']);
    expect(generation.error.code).toBe('SUBMISSION_UNKNOWN');
    expect(generation.error.message).toMatch(/not resubmitted/);
    // The slot is free again, and nothing was ever (re)submitted for the orphan.
    await generateOk(server, { prompt: 'takes the freed slot' });
    expect(server.sim.stats.submits).toBe(1);
  });

  it('matches an orphan whose webhook arrives first, and a later scan leaves it alone', async () => {
    const server = await serve({ webhooks: true, env: { LEASE_SCAN_MS: '100' }, behaviour: { logCount: 2 } });
    const prisma = server.running.database.prisma;
    const orphan = await insertOrphan(prisma, { prompt: 'orphan with a webhook' });
    // The submit the crashed process made: fal has it, and will call back with ?generation=.
    const fal = createFalClient({
      credentials: () => undefined,
      requestMiddleware: (r) => Promise.resolve({ ...r, url: r.url.replace(/^https:\/\/queue\.fal\.run/, server.sim.url) }),
    });
    const { request_id } = await fal.queue.submit(ENDPOINT, {
      input: orphan.falInput as never,
      webhookUrl: `${server.url.replace(/\/graphql$/, '/webhooks/fal')}?generation=${orphan.id}`,
    });
    const { generation } = await followToEnd(server, globalId(orphan.id));
    expect(generation.status).toBe('COMPLETED');
    expect(generation.falRequestId).toBe(request_id);
    expect(generation.logs.map((l: { message: string }) => l.message)).toEqual(simulatorLogs(server, request_id));
    // Even once it is older than ORPHAN_AFTER_S, a matched generation is no orphan.
    await prisma.generation.update({ where: { id: orphan.id }, data: { createdAt: new Date(Date.now() - 3600_000) } });
    expect(await server.running.generations.resolveOrphans()).toBe(0);
    expect((await prisma.generation.findUniqueOrThrow({ where: { id: orphan.id } })).status).toBe('COMPLETED');
    expect(server.sim.stats.submits).toBe(1);
  });

  it('cancels at fal, and logs, a submit that fal accepts only after the row was failed as an orphan', async () => {
    // A real HTTP hop in front of the simulator that holds the submit until the test lets it through.
    const proxy = await holdingProxy();
    disposers.push(() => proxy.close());
    const server = await serve({
      // Queued at fal until cancelled: fal can only stop a request that has not started (protocol §6).
      behaviour: { pauseBefore: 'IN_PROGRESS' },
      env: {
        FAL_BACKEND: 'fal',
        FAL_KEY: 'orphan-test:secret',
        FAL_QUEUE_URL: proxy.url,
        FAL_REST_URL: proxy.url,
        ORPHAN_AFTER_S: '1',
        LEASE_SCAN_MS: '100',
      },
    });
    proxy.target = server.sim.url;
    const pending = gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'a slow submit' } });
    await proxy.submitArrived;
    const [row] = await server.running.database.prisma.generation.findMany();
    expect(row).toMatchObject({ status: 'PENDING', falRequestId: null });
    // Submitting for longer than ORPHAN_AFTER_S: the scan gives up on it.
    const { generation } = await followToEnd(server, globalId(row.id));
    expect(generation.error.code).toBe('SUBMISSION_UNKNOWN');

    proxy.release();
    const answer = (await pending).data.generateVideo;
    // fal has the request, so the answer is the generation (as clients were told: FAILED), never an error...
    expect(answer.__typename).toBe('GenerateVideoSuccess');
    expect(answer.generation.status).toBe('FAILED');
    // ...its request id is kept, and fal was told not to run (and bill) it.
    const request = [...server.sim.requests.values()][0];
    expect(answer.generation.falRequestId).toBe(request.id);
    expect(request.cancelled).toBe(true);
    expect(server.logs.join('\n')).toMatch(new RegExp(`fal accepted request ${request.id} after it was failed as an orphan`));
    // Still exactly one terminal event: the late answer did not resurrect the row.
    expect((await followToEnd(server, globalId(row.id))).generation.status).toBe('FAILED');
  });
});

describe('orphan resolution on two instances sharing one PostgreSQL', () => {
  it('produces exactly one transition, and one terminal event, per orphan', async () => {
    const database: TempPostgresDatabase = await createTempPostgresDatabase();
    disposers.push(() => database.drop());
    // The background scan is slowed right down (every 225 s) so the two explicit passes below are the racers.
    const env = { DATABASE_URL: database.url, LEASE_SCAN_MS: '300000', ORPHAN_AFTER_S: '900' };
    const a = await serve({ env: { ...env, INSTANCE_ID: 'a' } });
    const b = await serve({ env: { ...env, INSTANCE_ID: 'b' } });
    const prisma = a.running.database.prisma;
    const orphans = await Promise.all(
      Array.from({ length: 40 }, (_, i) => insertOrphan(prisma, { ageSeconds: 3600, prompt: `orphan ${i}` })),
    );

    const [byA, byB] = await Promise.all([a.running.generations.resolveOrphans(), b.running.generations.resolveOrphans()]);
    expect(byA + byB).toBe(orphans.length);

    const rows = await prisma.generation.findMany({ where: { id: { in: orphans.map((o) => o.id) } } });
    expect(rows.every((r) => r.status === 'FAILED' && r.errorCode === 'SUBMISSION_UNKNOWN' && r.lastSequence === 2)).toBe(true);
    const terminal = await prisma.generationEvent.groupBy({ by: ['generationId'], where: { status: 'FAILED' }, _count: true });
    expect(terminal).toHaveLength(orphans.length);
    expect(terminal.every((t) => t._count === 1)).toBe(true);
    // A second round finds nothing left to do on either instance.
    expect(await Promise.all([a.running.generations.resolveOrphans(), b.running.generations.resolveOrphans()])).toEqual([0, 0]);
  });
});

interface HoldingProxy {
  url: string;
  target: string;
  /** Resolves when the first submit (POST to the model endpoint) arrives and is being held. */
  submitArrived: Promise<void>;
  release(): void;
  close(): Promise<void>;
}

async function holdingProxy(): Promise<HoldingProxy> {
  let arrived!: () => void;
  let release!: () => void;
  const submitArrived = new Promise<void>((resolve) => (arrived = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const proxy: HoldingProxy = { url: '', target: '', submitArrived, release, close: async () => {} };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.method === 'POST' && new URL(req.url ?? '/', 'http://x').pathname === `/${ENDPOINT}`) {
        arrived();
        await released;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<
        string,
        string
      >;
      const upstream = await fetch(`${proxy.target}${req.url}`, {
        method: req.method,
        headers,
        body: body.length > 0 ? new Uint8Array(body) : undefined,
      });
      res.writeHead(
        upstream.status,
        Object.fromEntries(
          [...upstream.headers].filter(([k]) => k !== 'content-length' && k !== 'content-encoding' && k !== 'transfer-encoding'),
        ),
      );
      if (upstream.body) Readable.fromWeb(upstream.body as never).pipe(res);
      else res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => {
    release();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
