import type { Readable } from 'node:stream';

/**
 * Where archived videos live: a local directory (the default) or an S3-compatible bucket (`ARCHIVE_URL`).
 * One seam, chosen in app.ts; the archiver and the video route never ask which one they got.
 *
 * The contract that keeps an object from ever being half-visible: `put` consumes `body` and makes the object
 * readable under its final name only if `body` ends without an error. The archiver's verifying stream errors
 * (before its end) when the size is wrong or the download breaks, so a wrong or partial file never lands;
 * the database row, written after `put` resolved, is what makes a video count as archived.
 */
export interface ArchiveStore {
  readonly kind: 'filesystem' | 's3';
  /** Where videos go, for the start-up log (never credentials). */
  readonly description: string;
  /** Stores `body` as `name` (e.g. `<generationId>.mp4`); resolves with the location to record in the row. */
  put(name: string, body: Readable, options: { contentType: string }): Promise<string>;
  /** The stored object's size, or null when this store does not hold `location` (another instance's disk, another bucket). */
  head(location: string): Promise<{ size: number } | null>;
  /** Bytes `start`..`end` (inclusive) of a stored object, or null when this store does not hold it. */
  read(location: string, range: { start: number; end: number }): Promise<Readable | null>;
  /**
   * A short-lived URL a client may GET directly (a presigned S3 URL), or null when the store cannot offer one.
   * `contentType` is what the response must say, whatever the object's metadata holds.
   */
  presign(location: string, options: { contentType: string; ttlSeconds: number }): Promise<string | null>;
}
