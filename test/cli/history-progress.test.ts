import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/app.ts';
import { followToEnd, generateOk } from '../helpers/generation.ts';
import { cliFixture, type CliFixture } from './fixture.ts';
import { cli, runCli } from './run-cli.ts';

describe('reelgraph list filters, progress and --detach against a real server', () => {
  let fixture: CliFixture;
  let server: TestServer;
  let env: Record<string, string>;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    fixture = await cliFixture();
    ({ server, env } = fixture);
    for (const prompt of ['An orange fox in the snow', 'A cat on a roof', 'A fox and a cat']) {
      const g = await generateOk(server, { prompt });
      await followToEnd(server, g.id);
      ids[prompt] = g.id;
    }
  });
  afterAll(() => fixture?.dispose());

  it('list --search, --status and --since narrow the list', async () => {
    const fox = await cli(['list', '--search', 'fox'], { env });
    expect(fox.code).toBe(0);
    expect(fox.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^${ids['A fox and a cat']}  COMPLETED .* A fox and a cat$`)),
      expect.stringMatching(new RegExp(`^${ids['An orange fox in the snow']}  COMPLETED .* An orange fox in the snow$`)),
    ]);
    const both = await cli(['list', '--search', 'cat', '--status', 'completed', '--since', '1h', '--json'], { env });
    expect(
      both.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line).id),
    ).toEqual([ids['A fox and a cat'], ids['A cat on a roof']]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await cli(['list', '--since', future], { env })).toMatchObject({ code: 0, stdout: 'no generations match\n' });
    const tooLong = await cli(['list', '--search', 'x'.repeat(201)], { env });
    expect(tooLong).toMatchObject({
      code: 1,
      stderr: 'reelgraph: the server rejected the input: filter.search: must be at most 200 characters\n',
    });
  });

  it('watch and show report progress and an ETA once the server has history for this kind of generation', async () => {
    server.sim.configure({ pauseBefore: 'COMPLETED' });
    let paused;
    try {
      paused = await generateOk(server, { prompt: 'held before completing' });
    } finally {
      server.sim.configure({ pauseBefore: undefined });
    }
    const watch = runCli(['watch', paused.id, '--no-download'], { env });
    await watch.waitForOutput(/#\d+ IN_PROGRESS \(\d+%, ETA \d+ s\)\n/);
    const show = await cli(['show', paused.id], { env });
    expect(show.stdout).toMatch(/^status {6}IN_PROGRESS\nprogress {4}\d+%, ETA \d+ s$/m);
    const listed = await cli(['list', '--status', 'IN_PROGRESS'], { env });
    expect(listed.stdout).toMatch(new RegExp(`^${paused.id}  IN_PROGRESS .* held before completing  \\(\\d+%, ETA \\d+ s\\)\\n$`));
    server.sim.resume(paused.falRequestId!);
    expect(await watch.exited).toBe(0);
    // A finished generation shows no progress any more.
    expect(watch.stdout()).toMatch(/#\d+ COMPLETED\n/);
    expect((await cli(['show', paused.id], { env })).stdout).not.toContain('progress');
  });

  it('--detach prints the command that follows the generation', async () => {
    const run = await cli(
      ['generate', '--image-url', 'https://example.com/a.png', '--prompt', 'later', '--detach', '--server', server.url],
      {
        env: {},
      },
    );
    expect(run.code).toBe(0);
    const id = /created generation (\S+)/.exec(run.stdout)![1];
    expect(run.stdout).toContain(`not waiting for it; follow it with: reelgraph watch ${id} --server ${server.url}\n`);
    const json = await cli(['generate', '--image-url', 'https://example.com/a.png', '--prompt', 'later', '--detach', '--json'], { env });
    const events = json.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.map((e) => e.kind)).toEqual(['created', 'detached']);
    expect(events[1]).toMatchObject({ id: events[0].id, command: `reelgraph watch ${events[0].id}` });
    await followToEnd(server, id);
    await followToEnd(server, events[0].id);
  });
});
