import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NO_LIMITS } from './limits.ts';
import type { ServerProcess } from './process.ts';

const SERVE = fileURLToPath(new URL('../../src/cli/serve.ts', import.meta.url));
// The benchmarks' probe: answers { cmd: 'memory' } over IPC with heap and RSS after full garbage collections.
const PROBE = fileURLToPath(new URL('../../bench/lib/probe.ts', import.meta.url));

export interface Memory {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

/** The real server (`src/cli/serve.ts`) in a child process with --expose-gc and the memory probe preloaded. */
export async function spawnProbedServer(env: Record<string, string>): Promise<ServerProcess & { memory(): Promise<Memory> }> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', PROBE, SERVE], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...NO_LIMITS, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/\S+\/graphql)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before listening:\n${output}`)));
  });
  let rid = 0;
  const memory = () =>
    new Promise<Memory>((resolve, reject) => {
      const id = (rid += 1);
      const onMessage = (message: { rid?: number; result?: Memory }) => {
        if (message?.rid !== id) return;
        child.off('message', onMessage);
        resolve(message.result as Memory);
      };
      child.on('message', onMessage);
      child.send({ cmd: 'memory', rid: id }, (error) => error && reject(error));
    });
  return { url, child, output: () => output, exited, memory };
}
