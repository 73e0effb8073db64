import { writtenRowSql } from './generation-row.ts';

/**
 * The batched form of TRANSITION_SQL (store-sql.ts): the status changes of many generations in ONE statement,
 * each row with exactly the guards of the single statement (the states it may start from, the lease owner's
 * fence, the orphan age, the IN_QUEUE position that only falls), its own write time, its STATUS event and (for
 * COMPLETED) its video row. A row whose guard refuses changes nothing and is absent from the answer; the others
 * are unaffected. Kept in step with TRANSITION_SQL: the two differ only in where the values come from.
 *
 * Per row ($1-$16, arrays of equal length): id, target status, queue position, write time, "set startedAt",
 * "set completedAt", error code and message, the states it may start from (comma-separated: a row's list has
 * its own length, and SQL arrays of arrays must be rectangular), lease owner (null: unfenced), orphan age in
 * seconds (null: no orphan guard), the video (url, content type, file name, size) and "insert the video".
 * Returns each generation written (lower-case id) with its event's sequence and its row as this write left it
 * (a WrittenRow's json, generation-row.ts), as TRANSITION_SQL does.
 */
export const TRANSITIONS_SQL = `
  WITH req AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamp(3)[], $5::boolean[], $6::boolean[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::int[],
                         $12::text[], $13::text[], $14::text[], $15::int[], $16::boolean[])
      AS r(id, target, qpos, at, started, completed, err_code, err_message, allowed, owner, orphan_secs,
           v_url, v_type, v_name, v_size, v_insert)
  ), g AS (
    UPDATE "Generation" AS gen
       SET status = req.target::"GenerationStatus",
           "queuePosition" = req.qpos,
           "lastSequence" = gen."lastSequence" + 1,
           "updatedAt" = req.at,
           "startedAt" = CASE WHEN req.started THEN req.at ELSE gen."startedAt" END,
           "completedAt" = CASE WHEN req.completed THEN req.at ELSE gen."completedAt" END,
           "errorCode" = COALESCE(req.err_code, gen."errorCode"),
           "errorMessage" = COALESCE(req.err_message, gen."errorMessage")
      FROM req
     WHERE gen.id = req.id
       AND gen.status::text = ANY(string_to_array(req.allowed, ','))
       AND (req.owner IS NULL OR gen."leaseOwner" = req.owner)
       AND (req.orphan_secs IS NULL
            OR (gen."falRequestId" IS NULL
                AND gen."createdAt" < timezone('UTC', now()) - make_interval(secs => req.orphan_secs)))
       -- As in TRANSITION_SQL: within IN_QUEUE only a falling position is a change.
       AND NOT (gen.status = 'IN_QUEUE' AND req.target = 'IN_QUEUE'
                AND gen."queuePosition" IS NOT NULL AND (req.qpos IS NULL OR req.qpos >= gen."queuePosition"))
    RETURNING gen.id, gen."lastSequence", req.target, req.qpos, req.at,
              req.v_url, req.v_type, req.v_name, req.v_size, req.v_insert, ${writtenRowSql('gen')} AS row
  ), event AS (
    INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "queuePosition", "createdAt")
    SELECT g.id, g."lastSequence", 'STATUS', g.target::"GenerationStatus", g.qpos, g.at FROM g
  ), output AS (
    INSERT INTO "VideoOutput" ("generationId", "sourceUrl", "contentType", "fileName", "fileSize", "createdAt")
    SELECT g.id, g.v_url, g.v_type, g.v_name, g.v_size, g.at FROM g WHERE g.v_insert
  )
  SELECT id::text AS id, "lastSequence" AS sequence, row FROM g`;
