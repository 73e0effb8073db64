import type { PrismaClient, SqlSession } from '../db/index.ts';
import { writtenRowSql } from './generation-row.ts';
import { ACTIVE_STATUSES } from './status.ts';

/**
 * The store's two hot statements (every log line and every status change goes through one of them), as plain
 * SQL with $1, $2... parameters, run on the driver (the pg pool or PGlite) underneath Prisma. Under ingest load
 * Prisma's per-call work (argument mapping, its request pipeline, result mapping) showed in the profile for
 * statements whose SQL is fixed; the driver runs the same text with none of it. Prisma stays the client for
 * every other read and write.
 *
 * Every parameter carries an explicit cast, so both drivers send it as text and PostgreSQL types it, and times
 * go as ISO strings ('...Z' into `timestamp(3)`, which keeps UTC, as Prisma stores them), never as Dates that
 * a driver would render in the process' local time zone.
 */
export type RunSql = <T>(sql: string, params: unknown[]) => Promise<T[]>;

/** The driver when the app has one; otherwise the same text through Prisma (tests that hold only a client). */
export function sqlRunner(db: PrismaClient, sql: SqlSession | undefined): RunSql {
  if (sql) return (text, params) => sql.query(text, params);
  return <T>(text: string, params: unknown[]) => db.$queryRawUnsafe<T[]>(text, ...params);
}

// Our own enum's literals, never input.
const ACTIVE = ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * appendLogsMany: per generation ($1 ids, $2 line counts, $3 lease owners or null), the guarded sequence
 * allocation (active, fenced by the owner when one is given); then every line ($5 generation, $6 ordinal within
 * its request, $7-$9 message, level, fal timestamp) joined to the generations that passed. $4 is the write time.
 * Returns the generations written, each with the sequence just before its first line and its row as this write
 * left it (a WrittenRow's json, generation-row.ts).
 */
export const APPEND_LOGS_SQL = `
  WITH req AS (
    SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[]) AS r(id, n, owner)
  ), g AS (
    UPDATE "Generation" AS gen SET "lastSequence" = gen."lastSequence" + req.n, "updatedAt" = $4::timestamp(3)
      FROM req
     WHERE gen.id = req.id AND gen.status IN (${ACTIVE})
       AND (req.owner IS NULL OR gen."leaseOwner" = req.owner)
    RETURNING gen.id, gen."lastSequence" - req.n AS base, ${writtenRowSql('gen')} AS row
  ), ins AS (
    INSERT INTO "GenerationEvent" ("generationId", sequence, kind, "logMessage", "logLevel", "logTimestamp", "createdAt")
    SELECT l.gid, g.base + l.ord, 'LOG', l.message, l.level, l.ts, $4::timestamp(3)
      FROM unnest($5::uuid[], $6::int[], $7::text[], $8::text[], $9::timestamp(3)[]) AS l(gid, ord, message, level, ts)
      JOIN g ON g.id = l.gid
  )
  SELECT id::text AS id, base, row FROM g`;

/**
 * transition: the guarded status update, its STATUS event and (for COMPLETED) the video row, in one statement.
 * $1 target status, $2 queue position, $3 write time, $4 "set startedAt", $5 "set completedAt", $6/$7 error code
 * and message, $8 id, $9 the states it may start from, $10 lease owner (fencing), $11 orphan age in seconds,
 * $12-$15 the video (url, content type, file name, size), $16 "insert the video". Returns the event's sequence and
 * the row as this write left it (a WrittenRow's json, generation-row.ts).
 */
export const TRANSITION_SQL = `
  WITH g AS (
    UPDATE "Generation" AS gen
       SET status = $1::text::"GenerationStatus",
           "queuePosition" = $2::int,
           "lastSequence" = "lastSequence" + 1,
           "updatedAt" = $3::timestamp(3),
           "startedAt" = CASE WHEN $4::boolean THEN $3::timestamp(3) ELSE "startedAt" END,
           "completedAt" = CASE WHEN $5::boolean THEN $3::timestamp(3) ELSE "completedAt" END,
           "errorCode" = COALESCE($6::text, "errorCode"),
           "errorMessage" = COALESCE($7::text, "errorMessage")
     WHERE id = $8::uuid
       AND status::text = ANY($9::text[])
       AND ($10::text IS NULL OR "leaseOwner" = $10::text)
       AND ($11::int IS NULL
            OR ("falRequestId" IS NULL
                AND "createdAt" < timezone('UTC', now()) - make_interval(secs => $11::int)))
       -- Within IN_QUEUE only a falling position is a change: a repeated or late (stale) report that arrives
       -- after a newer one, e.g. a stream event queued behind a catch-up poll, never moves it back.
       AND NOT (status = 'IN_QUEUE' AND $1::text = 'IN_QUEUE'
                AND "queuePosition" IS NOT NULL AND ($2::int IS NULL OR $2::int >= "queuePosition"))
    RETURNING gen."lastSequence", ${writtenRowSql('gen')} AS row
  ), event AS (
    INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "queuePosition", "createdAt")
    SELECT $8::uuid, "lastSequence", 'STATUS', $1::text::"GenerationStatus", $2::int, $3::timestamp(3) FROM g
  ), output AS (
    INSERT INTO "VideoOutput" ("generationId", "sourceUrl", "contentType", "fileName", "fileSize", "createdAt")
    SELECT $8::uuid, $12::text, $13::text, $14::text, $15::int, $3::timestamp(3)
      FROM g WHERE $16::boolean
  )
  SELECT "lastSequence" AS sequence, row FROM g`;
