import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENERATE, gql } from '../helpers/graphql.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';

/** Start-up and shutdown edges of the real server process (`node src/cli/serve.ts`). */

let dataDir: string;
const children: ServerProcess[] = [];
const servers: Server[] = [];
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-serve-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await child.exited;
  }
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await rm(dataDir, { recursive: true, force: true });
});

async function listening(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('start-up', () => {
  it('fails at once on a port in use: one line naming the port, no stack trace, no database opened', async () => {
    const port = await listening(createServer());
    const failure = await spawnServer({ PORT: String(port), DATA_DIR: dataDir, FAL_BACKEND: 'simulator' }).then(
      () => null,
      (error: Error) => error.message,
    );
    expect(failure).not.toBeNull();
    const output = (failure as string).split('\n').slice(1).join('\n').trim();
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`port ${port}\\b.*already in use`));
    expect(output).not.toMatch(/^\s+at /m);
    expect(failure).toMatch(/server exited \(1\)/);
    // The port was checked before the (slow) database work: PGlite's directory was never created.
    expect(existsSync(join(dataDir, 'pglite'))).toBe(false);
  });
});

describe('shutdown', () => {
  it(
    'honours SHUTDOWN_TIMEOUT_MS beyond the old fixed 15 s: an in-flight request is given all of it, then the process exits 0',
    { timeout: 120_000 },
    async () => {
      // A fal that accepts the submit and never answers: the mutation stays in flight through the shutdown.
      const held: Socket[] = [];
      const fal = createServer(() => undefined);
      fal.on('connection', (socket) => held.push(socket));
      const falPort = await listening(fal);
      const server = await spawnServer({
        PORT: '0',
        DATA_DIR: dataDir,
        FAL_KEY: 'fal-key-id:never-print-this-secret',
        FAL_QUEUE_URL: `http://127.0.0.1:${falPort}`,
        FAL_REST_URL: `http://127.0.0.1:${falPort}`,
        SHUTDOWN_TIMEOUT_MS: '17000',
      });
      children.push(server);
      const submitted = once(fal, 'request');
      const inFlight = gql(server.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'never answered' } }).catch(
        (error: Error) => error,
      );
      await submitted;
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      const exit = await server.exited;
      // The old serve.ts exited with 1 after 15 s, whatever SHUTDOWN_TIMEOUT_MS said.
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeGreaterThanOrEqual(17_000);
      expect(server.output()).not.toMatch(/did not finish within/);
      expect(await inFlight).toBeInstanceOf(Error);
      for (const socket of held) socket.destroy();
    },
  );
});
