import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/keys.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { cli } from './run-cli.ts';

let server: TestServer;
let dir: string;
let key: string;
beforeAll(async () => {
  server = await startTestServer({ env: { AUTH: 'required' } });
  key = (await createApiKey(server.running.database.prisma, { tenantId: 'acme', name: 'cli' })).key;
  dir = await mkdtemp(join(tmpdir(), 'reelgraph-cli-'));
  await writeFile(
    join(dir, 'start.png'),
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(100)]),
  );
});
afterAll(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('with a server that requires API keys: the key from REELGRAPH_API_KEY carries the upload, the subscription and the download', async () => {
  const run = await cli(['generate', '--image', 'start.png', '--prompt', 'walk', '--out', 'clip.mp4', '--server', server.url], {
    cwd: dir,
    env: { REELGRAPH_API_KEY: key },
  });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/saved .*clip\.mp4/);
  expect(run.stdout + run.stderr).not.toContain(key);
  const id = /created generation (\S+)/.exec(run.stdout)![1];

  // Without a key, or with a wrong one, every command says so and exits 1 (HTTP and graphql-ws alike).
  const none = await cli(['show', id, '--server', server.url]);
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/refused the request \(HTTP 401\)/);
  const wrongKey = `${key.slice(0, -4)}xxxx`;
  const watch = await cli(['watch', id, '--server', server.url, '--api-key', wrongKey]);
  expect(watch.code).toBe(1);
  expect(watch.stderr).toMatch(/refused the API key \(close code 4403\)/);
  expect(watch.stdout + watch.stderr).not.toContain(wrongKey);
});
