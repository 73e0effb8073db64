import { describe, expect, it } from 'vitest';
import { since } from '../../src/cli/reelgraph/args.ts';
import { createDisplay, duration, progressParts } from '../../src/cli/reelgraph/display.ts';
import { run } from '../../src/cli/reelgraph/main.ts';
import { closest, editDistance } from '../../src/cli/reelgraph/suggest.ts';

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

const server = 'http://127.0.0.1:1/graphql';

describe('reelgraph CLI polish', () => {
  it('suggests the option or command that was meant', async () => {
    expect(await runIn(['list', '--serach', 'cat'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'reelgraph: unknown option --serach (did you mean --search?)\n(see reelgraph --help)\n',
    });
    expect((await runIn(['generate', '--promt', 'walk'])).stderr).toContain('unknown option --promt (did you mean --prompt?)');
    expect((await runIn(['generate', '--end-imge', 'a.png'])).stderr).toContain('(did you mean --end-image?)');
    expect((await runIn(['list', '--sinse=2h'])).stderr).toContain('unknown option --sinse (did you mean --since?)');
    // Nothing close: no guess.
    expect((await runIn(['list', '--frobnicate'])).stderr).toBe('reelgraph: unknown option --frobnicate\n(see reelgraph --help)\n');
    expect(await runIn(['lsit', '--server', server])).toMatchObject({
      code: 2,
      stderr: 'reelgraph: unknown command "lsit" (did you mean "list"?)\n(see reelgraph --help)\n',
    });
    expect(editDistance('serach', 'search')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('x', ['json', 'out'])).toBeNull();
  });

  it('says in words what is wrong with a file', async () => {
    expect(await runIn(['generate', '--image', './x.png', '--prompt', 'p', '--server', server])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'reelgraph: cannot read ./x.png: no such file\n(see reelgraph --help)\n',
    });
    expect((await runIn(['generate', '--image', '/tmp', '--prompt', 'p', '--server', server])).stderr).toBe(
      'reelgraph: cannot read /tmp: not a regular file\n(see reelgraph --help)\n',
    );
  });

  it('writes every message in lower case after the reelgraph: prefix', async () => {
    const outputs = await Promise.all([
      runIn(['list', '--bogus']),
      runIn(['list', '--server', 'nope']),
      runIn(['list', '--since', 'yesterday', '--server', server]),
      runIn(['list', '--search', '  ', '--server', server]),
      runIn(['watch', '--server', server]),
      runIn(['list', '--server', server]),
      runIn(['list'], { FAL_VIDEO_SERVER: server }),
    ]);
    for (const { stderr } of outputs) {
      expect(stderr).not.toBe('');
      for (const line of stderr.trimEnd().split('\n'))
        expect(line).toMatch(/^(reelgraph: ([^A-Z]|[A-Z_]{2,}\b)|\(see reelgraph --help\)$)/);
    }
  });

  it('--since takes an ISO date or time, or a time ago, and says so when it cannot read it', async () => {
    const now = Date.parse('2026-12-04T12:00:00Z');
    expect(since('2h', now)?.toISOString()).toBe('2026-12-04T10:00:00.000Z');
    expect(since('90m', now)?.toISOString()).toBe('2026-12-04T10:30:00.000Z');
    expect(since('3d', now)?.toISOString()).toBe('2026-12-01T12:00:00.000Z');
    expect(since('1w', now)?.toISOString()).toBe('2026-11-27T12:00:00.000Z');
    expect(since('2026-12-01', now)?.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(since('2026-12-01T09:30Z', now)?.toISOString()).toBe('2026-12-01T09:30:00.000Z');
    expect(since('2026-12-01T09:30:15+01:00', now)?.toISOString()).toBe('2026-12-01T08:30:15.000Z');
    expect(since(undefined, now)).toBeUndefined();
    for (const bad of ['yesterday', '2h ago', '2026-13-45', '-3d', '3 days'])
      expect(() => since(bad, now)).toThrow(/--since must be an ISO date or time .* or a time ago \(90m, 2h, 3d, 1w\)/);
    expect((await runIn(['--help'])).stdout).toMatch(/--since <when>\s+created since: an ISO date or time/);
  });

  it('shows progress as a bar with an ETA that counts down between events, and as text in plain mode', () => {
    expect(duration(0.2)).toBe('1 s');
    expect(duration(59)).toBe('59 s');
    expect(duration(65)).toBe('1:05');
    expect(duration(3725)).toBe('1:02:05');
    const estimate = { fraction: 0.5, at: 10_000, end: 20_000 };
    expect(progressParts(estimate, 10_000)).toEqual([`[${'█'.repeat(10)}${'░'.repeat(10)}] 50%`, 'ETA 10 s']);
    // Halfway to the expected end: three quarters done, 5 s left.
    expect(progressParts(estimate, 15_000)).toEqual([`[${'█'.repeat(15)}${'░'.repeat(5)}] 75%`, 'ETA 5 s']);
    // Past it: never 100% while the server has not said it finished.
    expect(progressParts(estimate, 30_000)).toEqual([`[${'█'.repeat(20)}] 99%`, 'ETA any moment']);

    let plain = '';
    const display = createDisplay('plain', { write: (text: string) => (plain += text) }, () => 0);
    const progress = { fraction: 0.4, etaSeconds: 12, estimatedCompletionAt: new Date(12_000).toISOString() };
    display.event({ kind: 'status', sequence: 3, status: 'IN_PROGRESS', queuePosition: null, progress });
    display.event({ kind: 'status', sequence: 4, status: 'IN_QUEUE', queuePosition: 2, progress: null });
    expect(plain).toBe('[00:00] #3 IN_PROGRESS (40%, ETA 12 s)\n[00:00] #4 IN_QUEUE (queue position 2)\n');

    let clock = 0;
    let tty = '';
    const live = createDisplay('tty', { write: (text: string) => (tty += text), columns: 120 }, () => clock);
    live.event({ kind: 'status', sequence: 2, status: 'IN_PROGRESS', queuePosition: null, progress });
    clock = 6_000;
    live.event({ kind: 'log', sequence: 3, message: 'Generating frames', level: 'INFO', timestamp: new Date(6_000).toISOString() });
    live.close();
    expect(tty).toContain(`[${'█'.repeat(8)}${'░'.repeat(12)}] 40% · ETA 12 s`);
    expect(tty).toContain('70% · ETA 6 s');
  });
});
