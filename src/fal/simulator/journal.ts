import { EventEmitter } from 'node:events';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DirInUseError, lockDir, type DirLock } from '../../lib/dir-lock.ts';
import type { LiveRequest } from './request.ts';
import { errorMessage } from '../../lib/errors.ts';
import { isUuid, UUID_PATTERN } from '../../lib/uuid.ts';

/** fal keeps results for an hour (protocol §5); finished jobs are kept a day here, then dropped at start-up. */
const KEEP_COMPLETED_MS = 24 * 60 * 60 * 1000;

const logEntry = z.object({ message: z.string(), level: z.string(), source: z.string(), timestamp: z.string() });
const behaviour = z.looseObject({
  queuePosition: z.number(),
  queueStepMs: z.number(),
  logCount: z.number(),
  logIntervalMs: z.number(),
  completeDelayMs: z.number(),
  outcome: z.union([
    z.object({ kind: z.literal('success') }),
    z.object({ kind: z.literal('error'), status: z.number(), body: z.unknown(), headers: z.record(z.string(), z.string()).optional() }),
  ]),
});
/** A job as it is kept on disk: everything of a LiveRequest but its stream listeners. */
const storedRequest = z.object({
  id: z.string().regex(UUID_PATTERN),
  endpointId: z.string(),
  input: z.unknown(),
  headers: z.record(z.string(), z.string()),
  status: z.enum(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']),
  queuePosition: z.number(),
  logs: z.array(logEntry),
  cancelled: z.boolean(),
  webhookUrl: z.string().optional(),
  behaviour,
  validationErrors: z.array(z.unknown()),
  priority: z.enum(['low', 'normal']),
  startTimeoutAt: z.number().nullable(),
  timedOut: z.boolean(),
  pausedAt: z.enum(['IN_PROGRESS', 'COMPLETED']).nullable(),
  startedAt: z.number().nullable(),
  completedAt: z.number().nullable(),
  lastStepAt: z.number(),
  webhookPending: z.boolean(),
});
const storedUpload = z.object({ contentType: z.string(), fileName: z.string() });

export type Journal = Awaited<ReturnType<typeof openJournal>>;

/**
 * The simulator's jobs and uploads in a directory (DATA_DIR/simulator for the app's own), so a restarted
 * simulator carries on with them as fal would have. One JSON file per job, rewritten whole on every step
 * (write to a temporary file, then rename, so a crash leaves the old state or the new, never half of one).
 * Job writes are synchronous on purpose: a step is on disk before any client hears of it, so a crash never
 * makes a restarted simulator tell a different story (a log line with another timestamp) than it already told.
 * The directory is held by one process at a time.
 */
export async function openJournal(dir: string, warn: (line: string) => void) {
  const requestsDir = join(dir, 'requests');
  const uploadsDir = join(dir, 'uploads');
  await mkdir(requestsDir, { recursive: true });
  await mkdir(uploadsDir, { recursive: true });
  let lock: DirLock;
  try {
    lock = await lockDir(dir, 'simulator');
  } catch (error) {
    if (!(error instanceof DirInUseError)) throw error;
    throw new Error(
      `the fal simulator's state in ${dir} is in use by ${error.owner === null ? 'another process' : `process ${error.owner}`}; stop that server first, or give this one its own DATA_DIR`,
      { cause: error },
    );
  }
  const stateFile = join(dir, 'state.json');

  return {
    /** The port the last run listened on: the output URLs it handed out name it. */
    async port(): Promise<number | null> {
      const raw = await readFile(stateFile, 'utf8').catch(() => null);
      const parsed = z.object({ port: z.number().int().min(1).max(65535) }).safeParse(raw === null ? null : safeJson(raw));
      return parsed.success ? parsed.data.port : null;
    },
    async savePort(port: number): Promise<void> {
      await writeFile(`${stateFile}.tmp`, JSON.stringify({ port }));
      await rename(`${stateFile}.tmp`, stateFile);
    },

    /** Every job kept, as live requests; an unreadable file is set aside (`.corrupt`) with a warning. */
    async load(): Promise<LiveRequest[]> {
      const loaded: LiveRequest[] = [];
      for (const name of await readdir(requestsDir)) {
        const path = join(requestsDir, name);
        if (!name.endsWith('.json')) {
          // A temporary file a crash interrupted: the job's previous state is still in its .json.
          if (name.endsWith('.tmp')) await rm(path, { force: true });
          continue;
        }
        const parsed = storedRequest.safeParse(safeJson(await readFile(path, 'utf8').catch(() => '')));
        if (!parsed.success || `${parsed.data.id}.json` !== name) {
          warn(
            `job file ${name} is unreadable (${parsed.success ? 'its id does not match its name' : 'corrupt or partial'}); set aside as ${name}.corrupt`,
          );
          await rename(path, `${path}.corrupt`).catch(() => undefined);
          continue;
        }
        const job = parsed.data;
        if (job.status === 'COMPLETED' && (job.completedAt ?? 0) < Date.now() - KEEP_COMPLETED_MS) {
          await rm(path, { force: true });
          continue;
        }
        loaded.push({ ...job, streamConnections: 0, replaying: false, updates: new EventEmitter().setMaxListeners(0) });
      }
      return loaded;
    },

    save(request: LiveRequest): void {
      const { updates: _updates, streamConnections: _connections, replaying: _replaying, ...kept } = request;
      const path = join(requestsDir, `${request.id}.json`);
      try {
        writeFileSync(`${path}.tmp`, JSON.stringify(kept));
        renameSync(`${path}.tmp`, path);
      } catch (error) {
        // The job goes on in memory; only a restart would lose it.
        warn(`could not keep job ${request.id}: ${errorMessage(error)}`);
      }
    },

    async saveUpload(token: string, meta: z.infer<typeof storedUpload>, bytes: Buffer): Promise<void> {
      const base = join(uploadsDir, token);
      await writeFile(`${base}.tmp`, bytes);
      await rename(`${base}.tmp`, base);
      await writeFile(`${base}.json.tmp`, JSON.stringify(meta));
      await rename(`${base}.json.tmp`, `${base}.json`);
    },
    /** An uploaded file by its token (never a path: anything but a UUID is not found). */
    async loadUpload(token: string): Promise<(z.infer<typeof storedUpload> & { bytes: Buffer }) | null> {
      if (!isUuid(token)) return null;
      const base = join(uploadsDir, token);
      const meta = storedUpload.safeParse(safeJson((await readFile(`${base}.json`, 'utf8').catch(() => null)) ?? ''));
      const bytes = await readFile(base).catch(() => null);
      return meta.success && bytes ? { ...meta.data, bytes } : null;
    },

    close: () => lock.release(),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
