import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/app.ts';
import { generateOk } from '../helpers/generation.ts';
import { cliFixture, type CliFixture } from './fixture.ts';
import { cli, runCli } from './run-cli.ts';

describe('reelgraph commands against a real server', () => {
  let fixture: CliFixture;
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    fixture = await cliFixture();
    ({ server, dir, env } = fixture);
  });
  afterAll(() => fixture?.dispose());

  it("rejects bad input with the server's field errors, and bad usage with exit code 2", async () => {
    const bad = await cli(['generate', '--image', 'notes.txt', '--prompt', 'walk', '--duration', '99'], { env, cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('the server rejected the input');
    expect(bad.stderr).toContain('input.duration: must be between 3 and 15 seconds');
    expect(bad.stderr).toContain('input.image: must be a PNG, JPEG or WebP image');
  });

  it('never prints the API key, also when the server refuses it', async () => {
    const run = await cli(['list', '--api-key', 'rg_never_shown_1234'], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refused the request \(HTTP 401\)/);
    expect(run.stdout + run.stderr).not.toContain('rg_never_shown_1234');
    const fromEnv = await cli(['list'], { env: { ...env, REELGRAPH_API_KEY: 'rg_never_shown_5678' } });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain('rg_never_shown_5678');
  });

  it('list, show, cancel and watch', async () => {
    server.sim.configure({ pauseBefore: 'IN_PROGRESS' });
    let paused;
    try {
      paused = await generateOk(server, { prompt: 'waits in the queue' });
    } finally {
      server.sim.configure({ pauseBefore: undefined });
    }
    const list = await cli(['list', '--status', 'in_queue'], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${paused.id}  IN_QUEUE`);
    expect(list.stdout).toContain('waits in the queue');

    const show = await cli(['show', paused.id, '--json'], { env });
    expect(JSON.parse(show.stdout)).toMatchObject({ id: paused.id, status: 'IN_QUEUE', prompt: 'waits in the queue' });

    // Ctrl-C stops watching, not the generation, and says how to pick it up again.
    const interrupted = runCli(['watch', paused.id], { env });
    await interrupted.waitForOutput(/IN_QUEUE/);
    interrupted.kill('SIGINT');
    expect(await interrupted.exited).toBe(130);
    expect(interrupted.stderr()).toContain(`generation ${paused.id} carries on at the server; resume with: reelgraph watch ${paused.id}`);

    const watch = runCli(['watch', paused.id], { env });
    await watch.waitForOutput(/IN_QUEUE/);
    const cancel = await cli(['cancel', paused.id], { env });
    expect(cancel).toMatchObject({ code: 0, stdout: `generation ${paused.id} is CANCELLED\n` });
    expect(await watch.exited).toBe(1);
    expect(watch.stdout()).toMatch(/#\d+ CANCELLED\n/);
    expect(watch.stderr()).toContain(`generation ${paused.id} was cancelled`);

    const again = await cli(['cancel', paused.id], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/cannot cancel .*already finished \(CANCELLED\)/);
    const none = await cli(['show', 'nope'], { env });
    expect(none.code).toBe(1);
  });
});
