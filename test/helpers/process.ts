import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { registerLeftover } from './leftovers.ts';
import { NO_LIMITS } from './limits.ts';
import { until } from './until.ts';

const SERVE = fileURLToPath(new URL('../../src/cli/serve.ts', import.meta.url));

/**
 * Kills `child` (SIGKILL) at the end of the test file if it is still running then (test/helpers/leftovers.ts);
 * a child that exits by itself takes its registration back.
 */
function killIfLeftOver(child: ChildProcess, what: string): void {
  const exited = once(child, 'exit');
  const unregister = registerLeftover(`${what} (pid ${child.pid})`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  void exited.then(unregister);
}

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
export async function spawnServer(
  env: Record<string, string>,
  nodeArgs: string[] = [],
  options: { ipc?: boolean } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, SERVE], {
    // No quotas or rate limits unless a test asks: these processes serve load and recovery tests.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...NO_LIMITS, ...env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  killIfLeftOver(child, 'server process');
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
  const child = spawn(process.execPath, [SERVE], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killIfLeftOver(child, 'server process run to its exit');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/**
 * The parent a supervised server gets here: it starts the server in a process group of its own, says its pid,
 * and then never reaps it (a supervisor busy right after a crash), so a SIGKILLed server stays a zombie until
 * this parent goes. `node -e` is CommonJS; the write is synchronous because the event loop is blocked next.
 */
const NON_REAPING_PARENT = `
const child = require('node:child_process').spawn(process.execPath, [process.argv[1]], { detached: true, stdio: 'inherit' });
require('node:fs').writeSync(1, 'server pid ' + child.pid + '\\n');
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
`;

export interface GroupServer {
  url: string;
  /** The server's pid, which is also its process group id. */
  pid: number;
  output(): string;
  /** SIGKILLs the server's whole process group; resolves once it has died, with what is left of it. */
  killGroup(): Promise<'zombie' | 'gone'>;
  /** Kills whatever is left, the parent included (which lets the zombie be reaped). */
  stop(): Promise<void>;
}

/** What /proc says about a process: its state letter (R, S, Z, ...), or null once it is gone. */
export async function processState(pid: number): Promise<string | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  // "pid (comm) state ...": comm may hold spaces and parentheses, so the state follows the last ")".
  return stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/**
 * Resolves once the process has exited: a zombie (not reaped yet) or gone; null once `stillWanted` says so first.
 * Polls /proc, which has no event.
 */
export async function waitForDeath(pid: number, stillWanted: () => boolean = () => true): Promise<'zombie' | 'gone' | null> {
  const { death } = await until(
    `process ${pid} to exit`,
    async () => {
      if (!stillWanted()) return { death: null };
      const state = await processState(pid);
      if (state === null) return { death: 'gone' as const };
      return state === 'Z' || state === 'X' ? { death: 'zombie' as const } : null;
    },
    { intervalMs: 20, timeoutMs: 60_000 },
  );
  return death;
}

/**
 * Starts the real server as a supervisor would run it (see NON_REAPING_PARENT) and resolves once it listens;
 * rejects, with its output, if it dies first.
 */
export async function spawnServerGroup(env: Record<string, string>): Promise<GroupServer> {
  const parent = spawn(process.execPath, ['-e', NON_REAPING_PARENT, SERVE], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...NO_LIMITS, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const parentExited = once(parent, 'exit');
  let output = '';
  let pid = 0;
  let settled = false;
  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= killAll());
  async function killAll() {
    unregister();
    if (pid > 0 && (await processState(pid)) !== null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
    await parentExited;
  }
  const unregister = registerLeftover(`supervised server group (parent pid ${parent.pid})`, stop);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        const started = /^server pid (\d+)$/m.exec(output);
        if (started && pid === 0) {
          pid = Number(started[1]);
          waitForDeath(pid, () => !settled).then(
            (death) => {
              if (death === null) return;
              settled = true;
              reject(new Error(`server exited before listening:\n${output}`));
            },
            (error: unknown) => reject(error instanceof Error ? error : new Error(String(error))),
          );
        }
        const match = /listening on (http:\/\/\S+\/graphql)/.exec(output);
        if (match && !settled) {
          settled = true;
          resolve(match[1]);
        }
      };
      parent.stdout.on('data', onData);
      parent.stderr.on('data', onData);
      void parentExited.then(() => reject(new Error(`the server's parent exited:\n${output}`)));
    });
    return {
      url,
      pid,
      output: () => output,
      async killGroup() {
        process.kill(-pid, 'SIGKILL');
        return (await waitForDeath(pid)) ?? 'gone';
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs `npm run keys -- <args>` (src/cli/keys.ts) to its end. */
export async function runKeysCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../../src/cli/keys.ts', import.meta.url)), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killIfLeftOver(child, 'keys CLI');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
