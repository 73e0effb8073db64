import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type RunningApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createServer } from 'node:http';
import { createTempPostgresDatabase, type TempPostgresDatabase } from './db.ts';
import type { AddressInfo } from 'node:net';
import { createFalSimulator, type FalSimulator, type SimulatorBehaviour, type SimulatorOptions } from '../../src/fal/simulator/index.ts';
import { createLogger } from '../../src/logger.ts';
import { NO_LIMITS } from './limits.ts';
import { EventEmitter } from 'node:events';
import { parseLogLines, type LogRecord } from './logs.ts';
import { assertNoSecrets } from './secrets.ts';
import { registerLeftover } from './leftovers.ts';

export interface TestServer {
  app: App;
  running: RunningApp;
  url: string;
  sim: FalSimulator;
  logs: string[];
  /** Resolves with the first log record (already written or still to come) that matches. */
  waitForLog(predicate: (record: LogRecord) => boolean): Promise<LogRecord>;
  /** Stops the app (the simulator keeps running until dispose). */
  stopApp(): Promise<void>;
  /** Starts a new app instance on the same data directory and simulator (a restart). */
  restart(): Promise<TestServer>;
  dispose(): Promise<void>;
}

export interface TestServerOptions {
  behaviour?: Partial<SimulatorBehaviour>;
  /** Keep the database on disk (needed for restart tests); in-memory PGlite otherwise. */
  persistent?: boolean;
  env?: Record<string, string>;
  /** Configure PUBLIC_URL (on a port chosen up front) so fal webhooks are requested and delivered. */
  webhooks?: boolean;
  simulatorOptions?: Omit<SimulatorOptions, 'preset' | 'behaviour'>;
}

/** A port that was free a moment ago (needed when the server must know its own URL before it listens). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A real server on port 0: real PGlite, real HTTP/WebSocket, and the real fal client talking to a
 * fast simulator over HTTP. Everything it starts is released by dispose(), or at the end of the test file
 * when a failing test never got there (test/helpers/leftovers.ts).
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const sim = createFalSimulator({
    preset: 'fast',
    behaviour: options.behaviour,
    webhookRetry: { attempts: 3, baseDelayMs: 50 },
    ...options.simulatorOptions,
  });
  await sim.start();
  let scratch: string | null = null;
  let postgres: TempPostgresDatabase | null = null;
  let stopCurrentApp = async () => {};
  let released = false;
  // Everything started so far (a start-up that fails half-way included), released once: by dispose(), or at the
  // end of the test file when a failing test never got there.
  const release = async () => {
    if (released) return;
    released = true;
    unregister();
    await stopCurrentApp();
    await sim.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
    await postgres?.drop();
  };
  const unregister = registerLeftover(`test server (fal simulator at ${sim.url})`, release);
  const dataDir = options.persistent ? await mkdtemp(join(tmpdir(), 'reelgraph-test-')) : null;
  scratch = dataDir ?? (await mkdtemp(join(tmpdir(), 'reelgraph-test-')));
  // TEST_DATABASE=postgres runs the same integration tests on PostgreSQL (a fresh database per server).
  postgres = process.env.TEST_DATABASE === 'postgres' && !options.env?.DATABASE_URL ? await createTempPostgresDatabase() : null;
  const port = options.webhooks ? await freePort() : 0;
  const base = loadConfig({
    PORT: String(port),
    FAL_BACKEND: 'simulator',
    FAL_POLL_INTERVAL_MS: '100',
    DATA_DIR: scratch,
    ARCHIVE_RETRY_BASE_MS: '50',
    // Limits are exercised by test/security; elsewhere many generations are created in quick succession.
    ...NO_LIMITS,
    ...(options.webhooks ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    ...(postgres ? { DATABASE_URL: postgres.url } : {}),
    ...options.env,
  });
  const config: Config = {
    ...base,
    database: dataDir || base.database.kind === 'postgres' ? base.database : { kind: 'pglite', dataDir: null },
    tracking: { ...base.tracking, streamSafetyPollMs: 2_000 },
  };

  const boot = async (): Promise<TestServer> => {
    const logs: string[] = [];
    const logged = new EventEmitter();
    const app = createApp(config, {
      simulator: sim,
      logger: createLogger((line) => {
        logs.push(line);
        logged.emit('line', line);
      }),
    });
    let stopped = false;
    const stopApp = async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
    };
    stopCurrentApp = stopApp;
    const running = await app.start();
    return {
      app,
      running,
      url: running.url,
      sim,
      logs,
      waitForLog: (predicate) =>
        new Promise((resolve) => {
          const found = parseLogLines(logs).find(predicate);
          if (found) return resolve(found);
          const check = (line: string) => {
            const [record] = parseLogLines([line]);
            if (!predicate(record)) return;
            logged.off('line', check);
            resolve(record);
          };
          logged.on('line', check);
        }),
      stopApp,
      restart: async () => {
        await stopApp();
        return boot();
      },
      dispose: async () => {
        await stopApp();
        try {
          assertNoSecrets(logs.join('\n'), 'the server log');
        } finally {
          await release();
        }
      },
    };
  };
  return boot();
}
