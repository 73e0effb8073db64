import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/reelgraph/main.ts';
import { freePort } from '../helpers/app.ts';

/** Runs the CLI in-process (no server needed for these), capturing its output. */
async function runIn(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run({
    argv,
    env,
    stdout: { write: (text: string) => (stdout += text), isTTY: false },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('reelgraph CLI usage', () => {
  it('prints help and exits 0 with --help, 2 without a command', async () => {
    expect(await runIn(['--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('reelgraph generate (--image <file>') });
    expect(await runIn([])).toMatchObject({ code: 2, stderr: expect.stringContaining('Usage:') });
    expect(await runIn(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^reelgraph \d+\.\d+\.\d+\n$/) });
  });

  it('exits 2 with a clear message on wrong usage, before contacting any server', async () => {
    const server = 'http://127.0.0.1:1/graphql';
    expect(await runIn(['frobnicate', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command "frobnicate"'),
    });
    expect(await runIn(['generate', '--prompt', 'walk', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('give the start frame: --image <file> or --image-url <url>'),
    });
    expect(
      await runIn(['generate', '--image', 'a.png', '--image-url', 'https://x/a.png', '--prompt', 'p', '--server', server]),
    ).toMatchObject({ code: 2 });
    expect(await runIn(['generate', '--image', 'a.png', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--prompt'),
    });
    expect(await runIn(['generate', '--image', 'a.png', '--prompt', 'p', '--shot', 'q', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('give --prompt or --shot, not both'),
    });
    expect(await runIn(['generate', '--image', 'a.png', '--prompt', 'p', '--duration', 'five', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--duration must be a whole number'),
    });
    expect(await runIn(['generate', '--image', '/nonexistent/a.png', '--prompt', 'p', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('cannot read /nonexistent/a.png: ENOENT'),
    });
    expect(await runIn(['watch', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage: reelgraph watch <id>'),
    });
    expect(await runIn(['list', '--status', 'DONE', '--server', server])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--status must be one of'),
    });
    expect(await runIn(['list', '--server', 'ftp://example.com'])).toMatchObject({ code: 2 });
    expect(await runIn(['list', '--bogus'])).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--bogus'") });
  });

  it('exits 3 when the server cannot be reached (FAL_VIDEO_SERVER, bare origins get /graphql)', async () => {
    const port = await freePort();
    const result = await runIn(['list'], { FAL_VIDEO_SERVER: `http://127.0.0.1:${port}` });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`reelgraph: cannot reach http://127.0.0.1:${port}/graphql (ECONNREFUSED)\n`);
  });
});
