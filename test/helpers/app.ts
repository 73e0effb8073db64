import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type RunningApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createFalSimulator, type FalSimulator, type SimulatorBehaviour } from '../../src/fal/simulator/index.ts';
import { createLogger } from '../../src/logger.ts';

export interface TestServer {
  app: App;
  running: RunningApp;
  url: string;
  sim: FalSimulator;
  logs: string[];
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
}

/**
 * A real server on port 0: real PGlite, real HTTP/WebSocket, and the real fal client talking to a
 * fast simulator over HTTP. Everything it starts is released by dispose().
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const sim = createFalSimulator({ preset: 'fast', behaviour: options.behaviour });
  await sim.start();
  const dataDir = options.persistent ? await mkdtemp(join(tmpdir(), 'reelgraph-test-')) : null;
  const base = loadConfig({ PORT: '0', FAL_BACKEND: 'simulator', FAL_POLL_INTERVAL_MS: '100', ...(dataDir ? { DATA_DIR: dataDir } : {}), ...options.env });
  const config: Config = {
    ...base,
    database: dataDir || base.database.kind === 'postgres' ? base.database : { kind: 'pglite', dataDir: null },
    tracking: { ...base.tracking, streamSafetyPollMs: 2_000 },
  };

  const boot = async (): Promise<TestServer> => {
    const logs: string[] = [];
    const app = createApp(config, { simulator: sim, logger: createLogger((line) => logs.push(line)) });
    const running = await app.start();
    let stopped = false;
    const stopApp = async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
    };
    return {
      app,
      running,
      url: running.url,
      sim,
      logs,
      stopApp,
      restart: async () => {
        await stopApp();
        return boot();
      },
      dispose: async () => {
        await stopApp();
        await sim.stop();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
      },
    };
  };
  return boot();
}
