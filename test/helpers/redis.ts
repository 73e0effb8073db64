import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './app.ts';
import { registerLeftover } from './leftovers.ts';

export interface TestRedis {
  url: string;
  /** Stops the server (as a crash or restart would) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real redis-server of our own on a free loopback port, so a test can restart it without touching the
 * machine's shared Redis (other test files and other runs use that one).
 */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'reelgraph-redis-'));
  let child: ChildProcess | null = null;

  const launch = async () => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      proc.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      proc.once('exit', () => reject(new Error(`redis-server exited: ${output}`)));
    });
  };
  const halt = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };

  const stop = async () => {
    unregister();
    await halt();
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = registerLeftover(`redis-server on port ${port}`, stop);
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await halt();
      await launch();
    },
    stop,
  };
}
