/**
 * The servers under test, each started as its own process pinned to the server core, with the memory probe
 * preloaded: reelgraph itself (`src/cli/serve.ts`, exactly what `npm start` runs, on PGlite or PostgreSQL),
 * and the three peers. All take the same fal simulator as their upstream.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTempPostgresDatabase, type TempPostgresDatabase } from '../../test/helpers/db.ts';
import { ask, FAL_KEY, rssMb, SERVER_CORE, spawnPinned, type Pinned } from './util.ts';

export type TargetKind =
  'reelgraph' | 'reelgraph-pg' | 'raw-ws' | 'mercurius' | 'apollo' | 'raw-driver' | 'raw-driver-pg' | 'memory-history';
export const PEERS: TargetKind[] = ['raw-ws', 'mercurius', 'apollo'];

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const SCRIPTS: Record<TargetKind, string> = {
  reelgraph: here('../../src/cli/serve.ts'),
  'reelgraph-pg': here('../../src/cli/serve.ts'),
  'raw-ws': here('../peers/raw-ws.ts'),
  mercurius: here('../peers/mercurius.ts'),
  apollo: here('../peers/apollo.ts'),
  'raw-driver': here('../peers/raw-driver.ts'),
  'raw-driver-pg': here('../peers/raw-driver.ts'),
  'memory-history': here('../peers/memory-history.ts'),
};
const usesDb = (kind: TargetKind) => kind.startsWith('reelgraph') || kind.startsWith('raw-driver');
const usesPostgres = (kind: TargetKind) => kind.endsWith('-pg');
const PROBE = here('./probe.ts');

/**
 * `npm start` as package.json spells it (`[NAME=value ...] node [--flag ...] src/cli/serve.ts`): its environment
 * assignments and node flags, so reelgraph is measured with the memory settings it ships with.
 */
function npmStart(): { env: Record<string, string>; flags: string[] } {
  const packageJson = JSON.parse(readFileSync(here('../../package.json'), 'utf8')) as { scripts: { start: string } };
  const words = packageJson.scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; /^[A-Z_][A-Z0-9_]*=/.test(words[i]); i += 1) {
    const at = words[i].indexOf('=');
    env[words[i].slice(0, at)] = words[i].slice(at + 1);
  }
  if (words[i] !== 'node') throw new Error(`npm start is not \`node ...\`: ${packageJson.scripts.start}`);
  const flags: string[] = [];
  for (i += 1; words[i]?.startsWith('--'); i += 1) flags.push(words[i]);
  return { env, flags };
}

export interface Target {
  kind: TargetKind;
  url: string;
  wsUrl: string;
  pid: number;
  process: Pinned;
  /**
   * `Bearer <key>` for reelgraph (an API key of tenant `default`, created before the server starts), null for
   * the peers, which have no authentication. Every request and subscription of the benchmark sends it.
   */
  authorization: string | null;
  /** Headers for a JSON GraphQL POST to this target (with the key, when there is one). */
  headers: Record<string, string>;
  /** The temporary PostgreSQL database (the -pg kinds). */
  database: TempPostgresDatabase | null;
  /** Creates n generations through the server (reelgraph: the generateVideo mutation); returns their ids. */
  submit(n: number): Promise<string[]>;
  /** Heap and RSS after full GCs, in bytes. */
  memory(): Promise<{ heapUsed: number; rss: number }>;
  /** Writes a heap snapshot of the server to `path` after full GCs (for finding what a subscription holds). */
  snapshot(path: string): Promise<unknown>;
  /** Garbage collections of 20 ms or more since the last call (kind: 1 minor, 2 major, 4 incremental, 8 weak), and the longest loop delay. */
  pauses(): Promise<{ gcs: Array<{ kind: number; ms: number }>; maxLoopDelayMs: number }>;
  /**
   * With BENCH_PROFILE_DIR set, starts a CPU profile of the server now and returns the function that stops it
   * and writes `<dir>/<label>-<kind>.cpuprofile` (the measured window only); without it, a no-op.
   */
  profile(label: string): Promise<() => Promise<void>>;
  rssMb(): number;
  stop(): Promise<void>;
}

export const GENERATE =
  'mutation($i: GenerateVideoInput!) { generateVideo(input: $i) { __typename ... on GenerateVideoSuccess { generation { id } } } }';

export async function startTarget(kind: TargetKind, simUrl: string, env: Record<string, string> = {}): Promise<Target> {
  let dataDir: string | null = null;
  let database: TempPostgresDatabase | null = null;
  const start = kind.startsWith('reelgraph') ? npmStart() : { env: {}, flags: [] };
  let serverEnv: Record<string, string> = {
    ...start.env,
    PORT: '0',
    HOST: '127.0.0.1',
    SIM_URL: simUrl,
    FAL_KEY,
    NODE_ENV: 'production',
    ...env,
  };
  if (usesDb(kind)) {
    dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-bench-'));
    // No mutation rate limit: the benchmark is the only client.
    serverEnv = {
      DATA_DIR: dataDir,
      FAL_QUEUE_URL: simUrl,
      FAL_REST_URL: simUrl,
      FAL_BACKEND: 'fal',
      RATE_LIMIT_PER_MINUTE: 'none',
      QUOTA_MONTHLY_USD: 'none',
      QUOTA_DAILY_USD: 'none',
      QUOTA_MAX_CONCURRENT: 'none',
      RAW_DB: usesPostgres(kind) ? 'postgres' : 'pglite',
      ...serverEnv,
    };
    if (usesPostgres(kind)) {
      database = await createTempPostgresDatabase();
      serverEnv.DATABASE_URL = database.url;
      serverEnv.DATABASE_POOL_SIZE ??= '10';
    }
  }
  // reelgraph is measured as it runs when anyone else can reach it: with an API key (a non-loopback HOST
  // requires one). Open mode (loopback, no key yet) is a laptop convenience that checks for keys per request.
  const authorization = kind.startsWith('reelgraph') ? `Bearer ${await createKey(serverEnv)}` : null;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) };
  const proc = spawnPinned(SERVER_CORE, [SCRIPTS[kind]], serverEnv, [
    ...start.flags,
    '--expose-gc',
    '--max-old-space-size=4096',
    '--import',
    PROBE,
    // The whole process, written at exit (BENCH_PROFILE_DIR profiles the measured windows only, see profile()).
    ...(process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : []),
  ]);
  const url = (await proc.waitFor(/listening on (http:\/\/\S+\/graphql)/, 120_000))[1];
  const pid = proc.child.pid!;
  // The child is `bash -c 'exec taskset ... node'`: exec keeps the pid.
  return {
    kind,
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    pid,
    process: proc,
    authorization,
    headers,
    database,
    async submit(n) {
      if (!usesDb(kind)) {
        const ids: string[] = [];
        for (let done = 0; done < n; done += 200) {
          const response = await fetch(url.replace('/graphql', `/submit?count=${Math.min(200, n - done)}`), { method: 'POST' });
          ids.push(...((await response.json()) as { ids: string[] }).ids);
        }
        return ids;
      }
      const ids = new Array<string>(n);
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(16, n) }, async () => {
          while (next < n) {
            const i = next++;
            const response = await fetch(url, {
              method: 'POST',
              headers,
              body: JSON.stringify({ query: GENERATE, variables: { i: { imageUrl: 'https://example.com/a.png', prompt: `bench ${i}` } } }),
            });
            const body = (await response.json()) as { data?: { generateVideo: { generation?: { id: string } } }; errors?: unknown };
            const id = body.data?.generateVideo.generation?.id;
            if (!id) throw new Error(`generateVideo failed: ${JSON.stringify(body).slice(0, 500)}`);
            ids[i] = id;
          }
        }),
      );
      return ids;
    },
    memory: () => ask(proc.child, { cmd: 'memory' }, 60_000),
    snapshot: (path) => ask(proc.child, { cmd: 'snapshot', path }, 300_000),
    pauses: () => ask(proc.child, { cmd: 'pauses' }, 60_000),
    async profile(label) {
      const dir = process.env.BENCH_PROFILE_DIR;
      if (!dir) return async () => {};
      await mkdir(dir, { recursive: true });
      await ask(proc.child, { cmd: 'profile-start', alloc: process.env.BENCH_ALLOC_PROFILE === '1' }, 60_000);
      return async () => {
        const written = await ask(proc.child, { cmd: 'profile-stop', path: join(dir, `${label}-${kind}.cpuprofile`) }, 120_000);
        console.error(`profile: ${JSON.stringify(written)}`);
      };
    },
    rssMb: () => rssMb(pid),
    async stop() {
      await proc.kill();
      // BENCH_SERVER_LOG_DIR keeps what the server printed (the last 100-200 KB): warnings during a run explain stalls.
      const logDir = process.env.BENCH_SERVER_LOG_DIR;
      if (logDir) {
        await mkdir(logDir, { recursive: true });
        await writeFile(join(logDir, `${kind}-${pid}.log`), proc.output());
      }
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
      await database?.drop();
    },
  };
}

/** Creates a tenant `default` key in the target's database with the keys CLI (before the server holds it). */
async function createKey(env: Record<string, string>): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [here('../../src/cli/keys.ts'), 'create', '--tenant', 'default', '--name', 'bench', '--json'],
    {
      env: { ...process.env, ...env, PORT: '0' },
    },
  );
  return (JSON.parse(stdout) as { key: string }).key;
}

/** One process of subscribers on the load core. */
export interface Workers {
  procs: Pinned[];
  call<T>(index: number, message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  all<T>(message: Record<string, unknown>, timeoutMs?: number): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startWorkers(count: number, core: number): Promise<Workers> {
  const procs = Array.from({ length: count }, () => spawnPinned(core, [here('./subscriber-worker.ts')], {}, ['--max-old-space-size=4096']));
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => p.child.once('message', () => resolve()))));
  return {
    procs,
    call: (index, message, timeoutMs) => ask(procs[index].child, message, timeoutMs),
    all: <T>(message: Record<string, unknown>, timeoutMs?: number) => Promise.all(procs.map((p) => ask<T>(p.child, message, timeoutMs))),
    async stop() {
      await Promise.all(procs.map((p) => p.kill()));
    },
  };
}
