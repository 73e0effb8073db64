import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort, startTestServer, type TestServer } from '../helpers/app.ts';
import { generateOk } from '../helpers/generation.ts';
import { runCli } from './run-cli.ts';

let server: TestServer | undefined;
let dir: string | undefined;
afterAll(async () => {
  await server?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('watch survives a server restart: it reconnects, resumes after the last sequence it saw, and downloads the video', async () => {
  // A fixed port, so the restarted server is where the CLI left it; the database persists across the restart.
  const port = await freePort();
  server = await startTestServer({ persistent: true, env: { PORT: String(port) }, behaviour: { pauseBefore: 'COMPLETED' } });
  dir = await mkdtemp(join(tmpdir(), 'reelgraph-cli-'));
  const generation = await generateOk(server, { prompt: 'keeps going across a restart' });

  const watch = runCli(['watch', generation.id, '--out', 'clip.mp4', '--server', `http://127.0.0.1:${port}/graphql`], { cwd: dir });
  // Paused before COMPLETED: every log line has been shown, and the CLI waits for more.
  await watch.waitForOutput(/log INFO: Refining motion/);
  const before = watch.stdout();
  const lastSeen = Math.max(...[...before.matchAll(/#(\d+) /g)].map((m) => Number(m[1])));

  server = await server.restart();
  await watch.waitForOutput(/reconnected, resuming after #\d+/);
  server.sim.resume(generation.falRequestId!);

  expect(await watch.exited).toBe(0);
  const output = watch.stdout();
  expect(output).toMatch(/connection lost \(closed with code 1001: Server shutting down\); reconnecting, resuming after #\d+/);
  expect(output).toContain(`reconnected, resuming after #${lastSeen}\n`);
  // Every event exactly once, in order, across the restart.
  const sequences = [...output.matchAll(/\] #(\d+) /g)].map((m) => Number(m[1]));
  expect(sequences).toEqual(sequences.map((_, i) => i + 1));
  expect(sequences.length).toBeGreaterThan(lastSeen);
  expect(output).toMatch(/#\d+ COMPLETED\n/);
  expect(output).toMatch(/saved .*clip\.mp4 \(\d+ bytes\)\n$/);
  expect(await readFile(join(dir, 'clip.mp4'))).toEqual(
    await readFile(new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url)),
  );
});
