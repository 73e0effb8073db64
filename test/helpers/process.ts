import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NO_LIMITS } from './limits.ts';

const SERVE = fileURLToPath(new URL('../../src/cli/serve.ts', import.meta.url));

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** What it wrote to each stream so far (the log goes to stdout; stderr should stay empty). */
  stdout(): string;
  stderr(): string;
  /** Resolves once the output so far matches (checked on every chunk); rejects if the process exits first. */
  waitForOutput(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the real server (`node src/cli/serve.ts`, exactly what `npm start` runs) as a child process and
 * resolves once it says it is listening. Its stdout is a pipe, so it logs JSON lines (LOG_FORMAT's default
 * off a terminal); the readiness line is found by its message in either format.
 */
export async function spawnServer(env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, SERVE], {
    // No quotas or rate limits unless a test asks: these processes serve load and recovery tests.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...NO_LIMITS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      for (const waiter of waiters) waiter();
      const match = /listening on (http:\/\/[^\s,"]+\/graphql)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      output += chunk.toString('utf8');
      check();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      output += chunk.toString('utf8');
      check();
    });
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before listening:\n${output}`)));
  });
  const waitForOutput = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const waiter = () => {
        const match = pattern.exec(output);
        if (!match) return;
        waiters.delete(waiter);
        resolve(match);
      };
      waiters.add(waiter);
      waiter();
      void exited.then(() => waiters.has(waiter) && reject(new Error(`server exited before printing ${pattern}:\n${output}`)));
    });
  return { url, child, output: () => output, stdout: () => stdout, stderr: () => stderr, waitForOutput, exited };
}

/** Runs the server entry point to its exit (for start-up failures), with its two streams apart. */
export async function runServerToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SERVE], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
