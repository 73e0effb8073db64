/** Small helpers shared by the benchmark scripts: statistics, machine description, pinned child processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export const SERVER_CORE = Number(process.env.BENCH_SERVER_CORE ?? 0);
export const LOAD_CORE = Number(process.env.BENCH_LOAD_CORE ?? 1);
export const FAL_KEY = 'bench-key';

export const envInt = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
export const envList = (name: string, fallback: number[]) =>
  process.env[name] ? process.env[name].split(',').map((s) => Number(s.trim())) : fallback;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const round = (n: number, digits = 1) => Number(n.toFixed(digits));

export function summary(values: number[]): { n: number; p50: number; p99: number; max: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : Number.NaN),
  };
}

export function machine(): string {
  return `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}`;
}

export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Seconds of CPU (user + system) a process (or one of its threads, by thread id) has used, from /proc. */
export function cpuSeconds(pid: number, tid?: number): number {
  try {
    const fields = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')
      .split(') ')[1]
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Children still running when this process ends are killed with it (a benchmark killed half-way leaves nothing). */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

export interface Pinned {
  child: ChildProcess;
  output(): string;
  exited: Promise<unknown>;
  /** Resolves with the first stdout/stderr match of the pattern. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  kill(): Promise<void>;
}

/**
 * Starts `node <args>` pinned to one core (taskset) with a raised open-file limit, with an IPC channel
 * (bash `exec` keeps the channel's file descriptor and NODE_CHANNEL_FD).
 */
export function spawnPinned(core: number, args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Pinned {
  const quoted = [process.execPath, ...nodeFlags, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n $(ulimit -Hn) 2>/dev/null; exec taskset -c ${core} ${quoted}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit');
  children.add(child);
  void exited.then(() => children.delete(child));
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern} in:\n${output.slice(-3000)}`));
        }, timeoutMs);
        waiters.add(check);
        void exited.then(() => {
          if (!waiters.has(check)) return;
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${output.slice(-3000)}`));
        });
        check();
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends one IPC request to a child and waits for the answer with the same `rid`. */
let rid = 0;
export function ask<T>(child: ChildProcess, message: Record<string, unknown>, timeoutMs = 300_000): Promise<T> {
  const id = ++rid;
  return new Promise<T>((resolve, reject) => {
    const onMessage = (reply: { rid?: number; error?: string; result?: T }) => {
      if (reply?.rid !== id) return;
      child.off('message', onMessage);
      clearTimeout(timer);
      if (reply.error) reject(new Error(reply.error));
      else resolve(reply.result as T);
    };
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no answer to ${String(message.cmd)} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.send({ ...message, rid: id });
  });
}

/** Answers ask() requests in a child process. */
// Each handler declares the message it takes; ask() on the other side sends exactly that.
export function serveIpc(handlers: Record<string, (message: never) => unknown>): void {
  process.on('message', (message: { cmd: string; rid: number }) => {
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message as never);
      })
      .then(
        (result) => process.send!({ rid: message.rid, result }),
        (error: unknown) =>
          process.send!({ rid: message.rid, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
}
