import { fileURLToPath } from 'node:url';
import { spawnServer, type ServerProcess } from './process.ts';

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
  const server = await spawnServer(env, ['--expose-gc', '--import', PROBE], { ipc: true });
  const { child } = server;
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
  return { ...server, memory };
}
