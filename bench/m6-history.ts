/**
 * M6: the history page `videoGenerations(first: 50)` over BENCH_M6_ROWS (100k) generations: requests per second
 * and latency from a closed loop of BENCH_M6_CONCURRENCY clients, each walking pages with `after` (first page,
 * then the next BENCH_M6_DEPTH pages, then from the top again), on PGlite and on PostgreSQL, against the same page
 * served from memory by graphql-yoga (bench/peers/memory-history.ts). BENCH_M6_FROM_PAGE (default 1) moves
 * the walk's top down the history: page cost at page 1 against page 100 is
 * `BENCH_M6_DEPTH=0 BENCH_M6_FROM_PAGE=1` against `BENCH_M6_DEPTH=0 BENCH_M6_FROM_PAGE=100`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDb, migrate } from '../src/db/index.ts';
import { startSim } from './lib/sim.ts';
import { startTarget, type Target, type TargetKind } from './lib/targets.ts';
import { cpuSeconds, envInt, machine, round, summary } from './lib/util.ts';
import { writeResult } from './lib/results.ts';

const ROWS = envInt('BENCH_M6_ROWS', 100_000);
const SECONDS = envInt('BENCH_M6_SECONDS', 10);
const CONCURRENCY = envInt('BENCH_M6_CONCURRENCY', 16);
const DEPTH = envInt('BENCH_M6_DEPTH', 5);
const FROM_PAGE = envInt('BENCH_M6_FROM_PAGE', 1);
const targets = (process.env.BENCH_M6_TARGETS ?? 'reelgraph,reelgraph-pg,memory-history').split(',') as TargetKind[];
const PAGE =
  'query($after: String) { videoGenerations(first: 50, after: $after) { edges { cursor node { id prompt status createdAt } } pageInfo { hasNextPage endCursor } } }';

const SEED = `
  INSERT INTO "Generation" (id, "tenantId", status, backend, "endpointId", "imageUrl", prompt, duration, "generateAudio", "shotType", "falInput",
                            "lastSequence", "createdAt", "updatedAt", "completedAt")
  SELECT gen_random_uuid(), 'default', 'COMPLETED', 'FAL', 'fal-ai/kling-video/o3/standard/image-to-video', 'https://example.com/a.png',
         'prompt ' || i, 5, false, 'customize', '{}'::jsonb, 0, now() - (i || ' seconds')::interval, now(), now()
    FROM generate_series(1, ${ROWS}) AS i`;

async function post(target: Target, after: string | null) {
  const response = await fetch(target.url, {
    method: 'POST',
    headers: target.headers,
    body: JSON.stringify({ query: PAGE, variables: { after } }),
  });
  return (await response.json()) as {
    data?: { videoGenerations: { edges: unknown[]; pageInfo: { endCursor: string } } };
    errors?: unknown;
  };
}

/** The cursor before page FROM_PAGE (null for page 1), walked once, outside the measurement. */
async function topCursor(target: Target): Promise<string | null> {
  let after: string | null = null;
  for (let page = 1; page < FROM_PAGE; page += 1) {
    const body = await post(target, after);
    if (!body.data) throw new Error(`walking to page ${FROM_PAGE}: ${JSON.stringify(body).slice(0, 300)}`);
    after = body.data.videoGenerations.pageInfo.endCursor;
  }
  return after;
}

async function load(target: Target, top: string | null) {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let firstError = '';
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      let after: string | null = top;
      let depth = 0;
      while (performance.now() < end) {
        const t = performance.now();
        const body = await post(target, after);
        if (body.data?.videoGenerations.edges.length === 50) {
          ok += 1;
          latencies.push(performance.now() - t);
          depth += 1;
          after = depth > DEPTH ? top : body.data.videoGenerations.pageInfo.endCursor;
          if (depth > DEPTH) depth = 0;
        } else {
          failed += 1;
          firstError ||= JSON.stringify(body).slice(0, 300);
        }
      }
    }),
  );
  return { ok, failed, firstError, latencies };
}

const bench = await startSim({});
const rows: Array<Record<string, unknown>> = [];
try {
  for (const kind of targets) {
    let seededDir: string | null = null;
    const env: Record<string, string> = { BENCH_M6_ROWS: String(ROWS) };
    if (kind === 'reelgraph') {
      // PGlite lives inside the server process: seed its data directory first, then start the server on it.
      seededDir = await mkdtemp(join(tmpdir(), 'reelgraph-m6-'));
      const db = await createDb({ kind: 'pglite', dataDir: join(seededDir, 'pglite') }); // where the server's config puts it
      await migrate(db);
      await db.exec(SEED);
      await db.exec('ANALYZE');
      await db.close();
      env.DATA_DIR = seededDir;
    }
    const target = await startTarget(kind, bench.sim.url, env);
    try {
      if (target.database) {
        const client = new pg.Client({ connectionString: target.database.url });
        await client.connect();
        await client.query(SEED);
        await client.query('ANALYZE');
        await client.end();
      }
      const top = await topCursor(target);
      await load(target, top); // warm-up
      const stopProfile = await target.profile('m6');
      const cpu0 = cpuSeconds(target.pid);
      const run = await load(target, top);
      const cpu = cpuSeconds(target.pid) - cpu0;
      await stopProfile();
      const row = {
        target: kind,
        requestsPerSecond: round(run.ok / SECONDS, 1),
        ok: run.ok,
        failed: run.failed,
        latencyMs: summary(run.latencies),
        // The server process' own CPU (PostgreSQL's backends are other processes): what a page costs its core.
        serverCpuMsPerRequest: round((cpu * 1000) / Math.max(1, run.ok + run.failed), 3),
        firstError: run.firstError || undefined,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    } catch (error) {
      rows.push({ target: kind, failed: String(error).slice(0, 500) });
      console.log(JSON.stringify(rows.at(-1)));
    } finally {
      await target.stop();
      if (seededDir) await rm(seededDir, { recursive: true, force: true });
    }
  }
} finally {
  await bench.stop();
}
const rps = (kind: string) => rows.find((r) => r.target === kind)?.requestsPerSecond as number | undefined;
const ratio = (a: string) => (rps(a) && rps('memory-history') ? round(rps(a)! / rps('memory-history')!, 2) : null);
await writeResult('m6', {
  machine: machine(),
  date: new Date().toISOString(),
  rows: ROWS,
  seconds: SECONDS,
  concurrency: CONCURRENCY,
  depth: DEPTH,
  fromPage: FROM_PAGE,
  results: rows,
  ratios: { pgliteVsMemory: ratio('reelgraph'), postgresVsMemory: ratio('reelgraph-pg') },
});
