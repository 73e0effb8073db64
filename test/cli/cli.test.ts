/* eslint-disable no-control-regex -- the terminal's escape sequences are what these tests look at */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/app.ts';
import { readGeneration } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';
import { cliFixture, SAMPLE, type CliFixture } from './fixture.ts';
import { BIN, cli } from './run-cli.ts';

describe('reelgraph generate against a real server', () => {
  let fixture: CliFixture;
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    fixture = await cliFixture();
    ({ server, dir, env } = fixture);
  });
  afterAll(() => fixture?.dispose());

  it('generate: uploads the frames, prints one line per event when not on a terminal, and downloads the video', async () => {
    const uploads = server.sim.stats.uploads;
    const run = await cli(
      [
        'generate',
        '--image',
        'start.png',
        '--end-image',
        'end.jpg',
        '--prompt',
        'The character walks forward',
        '--duration',
        '5',
        '--audio',
        '--out',
        'clip.mp4',
      ],
      { env, cwd: dir },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.sim.stats.uploads - uploads).toBe(2);
    const lines = run.stdout.trimEnd().split('\n');
    // Plain mode: every line is one event with the elapsed time, and nothing redraws the screen.

    expect(run.stdout).not.toMatch(/\x1b\[/);
    for (const line of lines) expect(line).toMatch(/^\[\d\d:\d\d\] /);
    expect(lines[0]).toMatch(/created generation \S+/);
    expect(run.stdout).toMatch(/#1 PENDING\n/);
    expect(run.stdout).toMatch(/IN_QUEUE \(queue position \d+\)\n/);
    expect(run.stdout).toMatch(/#\d+ IN_PROGRESS\n/);
    expect(run.stdout).toMatch(/#\d+ log INFO: Generating frames/);
    expect(run.stdout).toMatch(/COMPLETED video: http:\/\/\S+\.mp4(\?\S*)?\n/);
    expect(lines.at(-1)).toMatch(/saved .*clip\.mp4 \(\d+ bytes\)$/);
    expect(await readFile(join(dir, 'clip.mp4'))).toEqual(await readFile(SAMPLE));

    const id = /created generation (\S+)/.exec(lines[0])![1];
    const generation = await readGeneration(server, id);
    expect(generation.status).toBe('COMPLETED');
    const sequences = [...run.stdout.matchAll(/#(\d+) /g)].map((m) => Number(m[1]));
    expect(sequences).toEqual(sequences.map((_, i) => i + 1));
  });

  it('--json: one JSON object per line, events in sequence order', async () => {
    const run = await cli(
      [
        'generate',
        '--image-url',
        'https://example.com/start.png',
        '--shot',
        '2:The camera pans left',
        '--shot',
        'It stops',
        '--json',
        '--out',
        'json.mp4',
      ],
      { env, cwd: dir },
    );
    expect(run.code).toBe(0);
    const events = run.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events[0]).toMatchObject({ kind: 'created', id: expect.any(String) });
    const kinds = new Set(events.map((e) => e.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(['created', 'status', 'log', 'finished', 'downloaded']));
    const sequenced = events.filter((e) => typeof e.sequence === 'number').map((e) => e.sequence);
    expect(sequenced).toEqual(sequenced.map((_: number, i: number) => i + 1));
    expect(events.at(-2)).toMatchObject({ kind: 'finished', status: 'COMPLETED', videoUrl: expect.stringMatching(/^http/) });
    expect(events.at(-1)).toMatchObject({ kind: 'downloaded', path: join(dir, 'json.mp4') });
    const { multiPrompt, prompt } = (
      await gql(server.url, 'query($id: ID!) { videoGeneration(id: $id) { prompt multiPrompt { prompt duration } } }', { id: events[0].id })
    ).data.videoGeneration;
    expect({ prompt, multiPrompt }).toEqual({
      prompt: null,
      multiPrompt: [
        { prompt: 'The camera pans left', duration: 2 },
        { prompt: 'It stops', duration: null },
      ],
    });
  });

  it('the live display redraws one status line and scrolls log lines above it', async () => {
    const run = await cli(['generate', '--image', 'start.png', '--prompt', 'walk', '--display', 'tty', '--no-download'], {
      env: { ...env },
      cwd: dir,
    });
    expect(run.code).toBe(0);
    // Each redraw clears the line in place; log lines are printed above the status line.
    expect(run.stdout).toContain('\r\x1b[2K');

    expect(run.stdout).toMatch(/\x1b\[1mIN_QUEUE\x1b\[22m · queue position \d+ · \d\d:\d\d/);

    expect(run.stdout).toMatch(/\r\x1b\[2K\x1b\[2m\d\d:\d\d:\d\d\x1b\[22m Generating frames/);

    expect(run.stdout).toMatch(/\x1b\[1mCOMPLETED\x1b\[22m[^\n]*\nvideo: http/);
  });

  it.runIf(existsSync('/usr/bin/script'))(
    'picks the live display by itself on a real terminal (a pseudo-terminal from script(1))',
    async () => {
      const command = [process.execPath, BIN, 'generate', '--image', 'start.png', '--prompt', 'walk', '--no-download']
        .map((a) => `'${a}'`)
        .join(' ');
      const run = await cli([], { env, cwd: dir, command: ['/usr/bin/script', '-qec', command, '/dev/null'] });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('\r\x1b[2K');

      expect(run.stdout).toMatch(/\x1b\[1mCOMPLETED\x1b\[22m/);
    },
  );

  it('exits non-zero with a clear message when the generation fails', async () => {
    server.sim.configure({
      outcome: {
        kind: 'error',
        status: 422,
        body: { detail: [{ loc: ['body', 'prompt'], msg: 'The prompt was flagged', type: 'content_policy_violation' }] },
      },
    });
    try {
      const run = await cli(['generate', '--image', 'start.png', '--prompt', 'something flagged'], { env, cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/FAILED: FAL_CONTENT_POLICY: prompt: The prompt was flagged/);
      expect(run.stderr).toMatch(/^reelgraph: generation \S+ failed \(FAL_CONTENT_POLICY: prompt: The prompt was flagged\)\n$/);
    } finally {
      server.sim.configure({ outcome: { kind: 'success' } });
    }
  });
});
