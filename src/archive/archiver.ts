import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Transform, pipeline } from 'node:stream';
import type { PrismaClient } from '../db/index.ts';
import type { GenerationEvents } from '../generations/event-map.ts';
import type { Logger } from '../logger.ts';
import { DownloadRefusedError, type Downloader } from './download-policy.ts';
import type { ArchiveStore } from './store.ts';
import { videoContentType } from './content-type.ts';
import type { MetricsSink } from '../metrics/types.ts';
import { backoffDelay } from '../lib/backoff.ts';
import { errorMessage } from '../lib/errors.ts';

export interface ArchiverOptions {
  db: PrismaClient;
  store: ArchiveStore;
  downloader: Downloader;
  maxAttempts: number;
  baseDelayMs: number;
  maxBytes: number;
  logger: Logger;
  metrics?: Pick<MetricsSink, 'archiveAttempt'>;
}

/** One archive attempt's outcome, as written to its row. */
export interface ArchiveAttempt {
  generationId: string;
  status: 'ARCHIVED' | 'RETRYING' | 'FAILED';
  attempts: number;
  error: string | null;
}

const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

/**
 * Copies each finished video from fal's temporary URL into our own store (see store.ts): downloaded under
 * the download policy, its size and sha256 computed while it streams into the store, and the size checked
 * against fal's before the stream ends, so a wrong file never becomes visible. The row is the truth: a video
 * counts as archived only once its row says ARCHIVED, written after the store confirmed the object and its
 * size. Failures are retried with exponential backoff, except refusals by the download policy (retrying
 * cannot change them); the generation stays COMPLETED whatever happens here.
 */
export function createArchiver(options: ArchiverOptions) {
  const { db, logger, store } = options;
  const timers = new Map<string, NodeJS.Timeout>();
  const inFlight = new Map<string, Promise<void>>();
  const waiters = new Map<string, Array<() => void>>();
  const events = new EventEmitter<{ attempt: [ArchiveAttempt] }>().setMaxListeners(0);
  let stopped = false;

  function settle(generationId: string): void {
    for (const resolve of waiters.get(generationId) ?? []) resolve();
    waiters.delete(generationId);
  }

  function schedule(generationId: string, delayMs: number): void {
    if (stopped || timers.has(generationId)) return;
    const timer = setTimeout(
      () => {
        timers.delete(generationId);
        void run(generationId);
      },
      Math.max(0, delayMs),
    );
    timers.set(generationId, timer);
  }

  function run(generationId: string): Promise<void> {
    const current = inFlight.get(generationId);
    if (current) return current;
    const attempt = archiveOnce(generationId).finally(() => inFlight.delete(generationId));
    inFlight.set(generationId, attempt);
    return attempt;
  }

  /** Downloads and stores the video; resolves with what was stored once the store holds all of it. */
  async function copy(sourceUrl: string, expectedSize: number | null, generationId: string, contentType: string) {
    const response = await options.downloader.get(sourceUrl, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS));
    if ((response.statusCode ?? 0) < 200 || (response.statusCode ?? 0) >= 300) {
      response.resume();
      throw new Error(`download answered HTTP ${response.statusCode}`);
    }
    const hash = createHash('sha256');
    let size = 0;
    const verify = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        size += chunk.length;
        if (size > options.maxBytes) return callback(new Error(`file is larger than ${options.maxBytes} bytes`));
        hash.update(chunk);
        callback(null, chunk);
      },
      // Runs before the stream ends: a short file errors the body, so the store never commits it.
      flush(callback) {
        if (expectedSize !== null && expectedSize !== size)
          return callback(new Error(`downloaded ${size} bytes but fal reported ${expectedSize}`));
        callback();
      },
    });
    const body = pipeline(response, verify, () => undefined);
    const location = await store.put(`${generationId}.mp4`, body, { contentType });
    const stored = await store.head(location);
    if (!stored || stored.size !== size) throw new Error(`the store holds ${stored?.size ?? 'no'} bytes for ${size} downloaded`);
    return { location, size, sha256: hash.digest('hex') };
  }

  async function archiveOnce(generationId: string): Promise<void> {
    if (stopped) return;
    const output = await db.videoOutput.findUnique({ where: { generationId } });
    if (!output || output.archiveStatus === 'ARCHIVED' || output.archiveStatus === 'FAILED') return;
    const attempts = output.archiveAttempts + 1;
    try {
      const { location, size, sha256 } = await copy(output.sourceUrl, output.fileSize, generationId, videoContentType(output.contentType));
      await db.videoOutput.update({
        where: { generationId },
        data: {
          archiveStatus: 'ARCHIVED',
          archivePath: location,
          archiveSha256: sha256,
          archiveSize: size,
          archiveAttempts: attempts,
          archiveError: null,
          nextArchiveAt: null,
          archivedAt: new Date(),
        },
      });
      options.metrics?.archiveAttempt('archived');
      events.emit('attempt', { generationId, status: 'ARCHIVED', attempts, error: null });
      settle(generationId);
    } catch (error) {
      if (stopped) return;
      const message = errorMessage(error);
      const refused = error instanceof DownloadRefusedError;
      const giveUp = refused || attempts >= options.maxAttempts;
      const delay = backoffDelay(attempts, { baseMs: options.baseDelayMs });
      logger.warn(
        `generation ${generationId}: archiving the video failed (attempt ${attempts}/${options.maxAttempts}${refused ? ', not retried' : ''}): ${message}`,
      );
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
      events.emit('attempt', { generationId, status: giveUp ? 'FAILED' : 'RETRYING', attempts, error: message });
      if (giveUp) settle(generationId);
      else schedule(generationId, delay);
    }
  }

  return {
    /** Every attempt's outcome, after its row was written (tests wait on these; app.ts announces them). */
    events,
    /** Archives every video that completes from now on (the domain's COMPLETED transitions); returns the unsubscribe. */
    follow(generations: GenerationEvents): () => void {
      return generations.on('transition', (e) => {
        if (e.status === 'COMPLETED') schedule(e.generationId, 0);
      });
    },
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
      const rows = await db.videoOutput.findMany({
        where: { archiveStatus: { in: ['PENDING', 'RETRYING'] } },
        select: { generationId: true, nextArchiveAt: true },
      });
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
