import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { generateOk, readGeneration } from '../helpers/generation.ts';
import { BIN, cli, runCli } from './run-cli.ts';

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(2000, 1)]);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 2)]);
const SAMPLE = new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url);

describe('reelgraph CLI against a real server', () => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(tmpdir(), 'reelgraph-cli-'));
    await writeFile(join(dir, 'start.png'), PNG);
    await writeFile(join(dir, 'end.jpg'), JPEG);
    await writeFile(join(dir, 'notes.txt'), 'not an image');
    // The server comes from the environment here; --server is used below.
    env = { FAL_VIDEO_SERVER: server.url };
  });
  afterAll(async () => {
    await server?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('generate: uploads the frames, prints one line per event when not on a terminal, and downloads the video', async () => {
    const uploads = server.sim.stats.uploads;
    const run = await cli(
      ['generate', '--image', 'start.png', '--end-image', 'end.jpg', '--prompt', 'The character walks forward', '--duration', '5', '--audio', '--out', 'clip.mp4'],
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
    const run = await cli(['generate', '--image-url', 'https://example.com/start.png', '--prompt', 'walk', '--json', '--out', 'json.mp4'], { env, cwd: dir });
    expect(run.code).toBe(0);
    const events = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(events[0]).toMatchObject({ kind: 'created', id: expect.any(String) });
    const kinds = new Set(events.map((e) => e.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(['created', 'status', 'log', 'finished', 'downloaded']));
    const sequenced = events.filter((e) => typeof e.sequence === 'number').map((e) => e.sequence);
    expect(sequenced).toEqual(sequenced.map((_: number, i: number) => i + 1));
    expect(events.at(-2)).toMatchObject({ kind: 'finished', status: 'COMPLETED', videoUrl: expect.stringMatching(/^http/) });
    expect(events.at(-1)).toMatchObject({ kind: 'downloaded', path: join(dir, 'json.mp4') });
  });

  it('the live display redraws one status line and scrolls log lines above it', async () => {
    const run = await cli(['generate', '--image', 'start.png', '--prompt', 'walk', '--display', 'tty', '--no-download'], { env: { ...env }, cwd: dir });
    expect(run.code).toBe(0);
    // Each redraw clears the line in place; log lines are printed above the status line.
    expect(run.stdout).toContain('\r\x1b[2K');
    expect(run.stdout).toMatch(/\x1b\[1mIN_QUEUE\x1b\[22m · queue position \d+ · \d\d:\d\d/);
    expect(run.stdout).toMatch(/\r\x1b\[2K\x1b\[2m\d\d:\d\d:\d\d\x1b\[22m Generating frames/);
    expect(run.stdout).toMatch(/\x1b\[1mCOMPLETED\x1b\[22m[^\n]*\nvideo: http/);
  });

  it.runIf(existsSync('/usr/bin/script'))('picks the live display by itself on a real terminal (a pseudo-terminal from script(1))', async () => {
    const command = [process.execPath, BIN, 'generate', '--image', 'start.png', '--prompt', 'walk', '--no-download'].map((a) => `'${a}'`).join(' ');
    const run = await cli([], { env, cwd: dir, command: ['/usr/bin/script', '-qec', command, '/dev/null'] });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\r\x1b[2K');
    expect(run.stdout).toMatch(/\x1b\[1mCOMPLETED\x1b\[22m/);
  });

  it('exits non-zero with a clear message when the generation fails', async () => {
    server.sim.configure({ outcome: { kind: 'error', status: 422, body: { detail: [{ loc: ['body', 'prompt'], msg: 'The prompt was flagged', type: 'content_policy_violation' }] } } });
    try {
      const run = await cli(['generate', '--image', 'start.png', '--prompt', 'something flagged'], { env, cwd: dir });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/FAILED: FAL_CONTENT_POLICY: prompt: The prompt was flagged/);
      expect(run.stderr).toMatch(/^reelgraph: generation \S+ failed \(FAL_CONTENT_POLICY: prompt: The prompt was flagged\)\n$/);
    } finally {
      server.sim.configure({ outcome: { kind: 'success' } });
    }
  });

  it('rejects bad input with the server\'s field errors, and bad usage with exit code 2', async () => {
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
