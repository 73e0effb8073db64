import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The installed command (`npx reelgraph` runs this same file). */
export const BIN = fileURLToPath(new URL('../../bin/reelgraph.js', import.meta.url));

export interface CliProcess {
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches (checked on every chunk); rejects if the process exits first. */
  waitForOutput(pattern: RegExp): Promise<void>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run this instead of `node bin/reelgraph.js <args>` (e.g. the CLI wrapped in script(1) for a terminal). */
  command?: string[];
}

/** Runs the CLI as a child process with stdout and stderr piped (so not a TTY), as a script or CI job would. */
export function runCli(args: string[], options: CliOptions = {}): CliProcess {
  const [program, ...rest] = options.command ?? [process.execPath, BIN, ...args];
  const child = spawn(program, rest, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void; reject: (e: Error) => void }> = [];
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const w of [...waiters]) {
      if (w.pattern.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
    for (const w of waiters.splice(0))
      w.reject(new Error(`CLI exited (${code}) before printing ${w.pattern}\nstdout:\n${out}\nstderr:\n${err}`));
  });
  return {
    stdout: () => out,
    stderr: () => err,
    waitForOutput: (pattern) => {
      if (pattern.test(out)) return Promise.resolve();
      if (exitCode !== undefined)
        return Promise.reject(new Error(`CLI exited (${exitCode}) before printing ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
  };
}

/** Runs the CLI to its end. */
export async function cli(args: string[], options: CliOptions = {}) {
  const run = runCli(args, options);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
