import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PrismaClient } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import type { MetricsSink } from '../metrics/types.ts';

export interface ArchiverOptions {
  db: PrismaClient;
  dir: string;
  maxAttempts: number;
  baseDelayMs: number;
  maxBytes: number;
  logger: Logger;
  /** Called after each archive attempt changed a row (so the API can announce the new video state). */
  onChange?: (generationId: string) => void;
  metrics?: Pick<MetricsSink, 'archiveAttempt'>;
}

/**
 * Copies each finished video from fal's temporary URL into our own storage: streamed to a temporary file
 * while its size and sha256 are computed, checked against what fal said, then renamed into place, so a
 * file under its final name is always complete. Failures are retried with exponential backoff; the
 * generation stays COMPLETED whatever happens here.
 */
export function createArchiver(options: ArchiverOptions) {
  const { db, logger } = options;
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Map<string, Promise<void>>();
  const waiters = new Map<string, Array<() => void>>();
  let stopped = false;

  function settle(generationId: string): void {
    for (const resolve of waiters.get(generationId) ?? []) resolve();
    waiters.delete(generationId);
  }

  function schedule(generationId: string, delayMs: number): void {
    if (stopped || timers.has(generationId)) return;
    const timer = setTimeout(() => {
      timers.delete(generationId);
      void run(generationId);
    }, Math.max(0, delayMs));
    timers.set(generationId, timer);
  }

  function run(generationId: string): Promise<void> {
    const current = inFlight.get(generationId);
    if (current) return current;
    const attempt = archiveOnce(generationId).finally(() => inFlight.delete(generationId));
    inFlight.set(generationId, attempt);
    return attempt;
  }

  async function archiveOnce(generationId: string): Promise<void> {
    if (stopped) return;
    const output = await db.videoOutput.findUnique({ where: { generationId } });
    if (!output || output.archiveStatus === 'ARCHIVED' || output.archiveStatus === 'FAILED') return;
    const attempts = output.archiveAttempts + 1;
    const finalPath = join(options.dir, `${generationId}.mp4`);
    const tempPath = join(options.dir, `.${generationId}.${randomUUID()}.part`);
    try {
      await mkdir(options.dir, { recursive: true });
      const response = await fetch(output.sourceUrl, { signal: AbortSignal.timeout(5 * 60_000) });
      if (!response.ok || !response.body) throw new Error(`download answered HTTP ${response.status}`);
      const hash = createHash('sha256');
      let size = 0;
      const measure = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          if (size > options.maxBytes) return callback(new Error(`file is larger than ${options.maxBytes} bytes`));
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(response.body as never), measure, createWriteStream(tempPath));
      if (output.fileSize !== null && output.fileSize !== size) {
        throw new Error(`downloaded ${size} bytes but fal reported ${output.fileSize}`);
      }
      const sha256 = hash.digest('hex');
      await rename(tempPath, finalPath);
      await db.videoOutput.update({
        where: { generationId },
        data: { archiveStatus: 'ARCHIVED', archivePath: finalPath, archiveSha256: sha256, archiveSize: size, archiveAttempts: attempts, archiveError: null, nextArchiveAt: null, archivedAt: new Date() },
      });
      options.metrics?.archiveAttempt('archived');
      options.onChange?.(generationId);
      settle(generationId);
    } catch (error) {
      await rm(tempPath, { force: true }).catch(() => undefined);
      if (stopped) return;
      const message = error instanceof Error ? error.message : String(error);
      const giveUp = attempts >= options.maxAttempts;
      const delay = options.baseDelayMs * 2 ** (attempts - 1);
      logger.warn(`generation ${generationId}: archiving the video failed (attempt ${attempts}/${options.maxAttempts}): ${message}`);
      await db.videoOutput.update({
        where: { generationId },
        data: {
          archiveStatus: giveUp ? 'FAILED' : 'RETRYING',
          archiveAttempts: attempts,
          archiveError: message,
          nextArchiveAt: giveUp ? null : new Date(Date.now() + delay),
        },
      });
      options.metrics?.archiveAttempt(giveUp ? 'failed' : 'retrying');
      options.onChange?.(generationId);
      if (giveUp) settle(generationId);
      else schedule(generationId, delay);
    }
  }

  return {
    /** Archives a generation's video soon (idempotent: an archived video is left alone). */
    enqueue(generationId: string): void {
      schedule(generationId, 0);
    },
    /** Resolves once the generation's archive is final (ARCHIVED or FAILED). */
    async settled(generationId: string): Promise<void> {
      const waiting = new Promise<void>((resolve) => waiters.set(generationId, [...(waiters.get(generationId) ?? []), resolve]));
      const row = await db.videoOutput.findUnique({ where: { generationId }, select: { archiveStatus: true } });
      if (row && (row.archiveStatus === 'ARCHIVED' || row.archiveStatus === 'FAILED')) settle(generationId);
      return waiting;
    },
    /** Picks up archives that were pending or retrying when the process stopped. */
    async resume(): Promise<number> {
      const rows = await db.videoOutput.findMany({ where: { archiveStatus: { in: ['PENDING', 'RETRYING'] } }, select: { generationId: true, nextArchiveAt: true } });
      for (const row of rows) schedule(row.generationId, (row.nextArchiveAt?.getTime() ?? 0) - Date.now());
      return rows.length;
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}

export type Archiver = ReturnType<typeof createArchiver>;
