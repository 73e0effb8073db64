import { createHash } from 'node:crypto';
import { realpath, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/** Another live process holds the directory; `owner` is its pid when it said so. */
export class DirInUseError extends Error {
  readonly dir: string;
  readonly owner: number | null;
  constructor(dir: string, owner: number | null) {
    super(`${dir} is in use by ${owner === null ? 'another process' : `process ${owner}`}`);
    this.name = 'DirInUseError';
    this.dir = dir;
    this.owner = owner;
  }
}

export interface DirLock {
  release(): Promise<void>;
}

/** sockaddr_un holds 108 bytes on Linux, 104 on the BSDs and macOS, NUL included. */
const MAX_SOCKET_PATH = process.platform === 'linux' ? 107 : 103;
/** How long a live holder gets to say its pid (its event loop may be busy); it is refused either way. */
const OWNER_REPLY_MS = 2_000;

/**
 * One process at a time per directory, held by listening sockets rather than a pid file: the kernel closes a
 * process's sockets when it dies, however it dies, before it is even reaped, so a SIGKILL leaves no lock behind
 * and a supervisor's restart is let in at once (a pid file still names a zombie, or a reused pid, as alive).
 * Node has no flock(2), and these need no native addon:
 * - On Linux, an abstract-namespace socket named after the directory's real path: bound atomically and gone with
 *   its holder, nothing on disk. It only sees processes in the same network namespace.
 * - A socket file in the directory, seen across network namespaces (containers sharing a volume) and on every
 *   platform. A dead holder's file refuses connections and is replaced; replacing is not atomic, but on Linux
 *   the abstract socket has already let only one contender of this namespace through.
 * A holder answers every connection with its pid, which the refusal names.
 */
export async function lockDir(dir: string, name: string): Promise<DirLock> {
  const held: Server[] = [];
  const release = async () => {
    // Closing a bound socket file also unlinks it (libuv), while the abstract lock still keeps others out.
    for (const server of held.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    if (process.platform === 'linux') {
      const digest = createHash('sha256')
        .update(await realpath(dir))
        .digest('hex')
        .slice(0, 32);
      const abstract = `\0reelgraph:${name}:${digest}`;
      held.push(await hold(dir, abstract, false));
    }
    const file = join(dir, `${name}.lock`);
    if (Buffer.byteLength(file) <= MAX_SOCKET_PATH) held.push(await hold(dir, file, true));
    else if (process.platform !== 'linux')
      throw new Error(`the lock socket path ${file} is too long (at most ${MAX_SOCKET_PATH} bytes): use a shorter directory`);
    return { release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** Listens on `address`; when it is taken and nobody answers there, a socket file is stale and replaced. */
async function hold(dir: string, address: string, isFile: boolean): Promise<Server> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const server = await listen(address);
    if (server) return server;
    const holder = await probe(address);
    if (holder.alive) throw new DirInUseError(dir, holder.owner);
    // Left by a process that died: nothing listens on it any more. (An abstract name was just freed.)
    if (isFile) await rm(address, { force: true });
  }
  throw new Error(`could not lock ${dir}`);
}

/** A server listening on `path`, or null when that address is taken. */
function listen(path: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: false }, (socket) => {
      socket.on('error', () => {});
      socket.unref();
      socket.end(`${process.pid}\n`);
    });
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(null) : reject(error)));
    server.listen({ path, exclusive: true }, () => {
      // The lock must not keep a finished CLI alive.
      server.unref();
      resolve(server);
    });
  });
}

/** Whether a process listens on `path`, and the pid it reports. */
function probe(path: string): Promise<{ alive: boolean; owner: number | null }> {
  return new Promise((resolve, reject) => {
    let reply = '';
    let connected = false;
    const socket = createConnection({ path });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const owner = Number.parseInt(reply, 10);
      resolve({ alive: true, owner: Number.isSafeInteger(owner) && owner > 0 ? owner : null });
    };
    const timer = setTimeout(done, OWNER_REPLY_MS);
    socket.on('connect', () => void (connected = true));
    socket.on('data', (chunk: Buffer) => void (reply += chunk.toString('utf8')));
    socket.on('end', done);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (connected) return done();
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve({ alive: false, owner: null });
      // A full accept backlog: someone is listening.
      else if (error.code === 'EAGAIN') resolve({ alive: true, owner: null });
      else reject(error);
    });
  });
}
