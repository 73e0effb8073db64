import type { Database, PrismaClient, SqlSession } from '../db/index.ts';
import { sqlRunner, type RunSql } from './store-sql.ts';

/**
 * generateVideo's statements, as plain SQL run on the driver (the pg pool or PGlite) underneath Prisma, as the
 * store's hot writes are (store-sql.ts, whose conventions hold here: every parameter cast, times as ISO
 * strings). A CPU profile of the M4 loop had Prisma's client at 29 % of the server's busy time, nearly all of it
 * in these few statements of fixed shape; the driver runs the same text without it.
 */

/**
 * The new row (PENDING) with its first event, in one statement. $1 id, $2 tenant, $3 backend, $4 endpoint,
 * $5/$6 start and end frame, $7 prompt, $8 shots (json), $9 duration, $10 audio, $11 shot type, $12 fal input
 * (json), $13/$14 idempotency key and input hash, $15 deadline, $16 estimated cost, $17 the time of creation.
 */
export const INSERT_GENERATION_SQL = `
  WITH g AS (
    INSERT INTO "Generation" (id, "tenantId", status, backend, "endpointId", "imageUrl", "endImageUrl", prompt, "multiPrompt",
                              duration, "generateAudio", "shotType", "falInput", "idempotencyKey", "idempotencyHash",
                              "deadlineAt", "estimatedCostMicros", "lastSequence", "createdAt", "updatedAt")
    VALUES ($1::uuid, $2::text, 'PENDING', $3::text::"FalBackend", $4::text, $5::text, $6::text, $7::text, $8::jsonb,
            $9::int, $10::boolean, $11::text, $12::jsonb, $13::text, $14::text,
            $15::timestamp(3), $16::int, 1, $17::timestamp(3), $17::timestamp(3))
    RETURNING id
  )
  INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "createdAt")
  SELECT id, 1, 'STATUS', 'PENDING', $17::timestamp(3) FROM g`;

/**
 * Once fal accepted the request: stores its request id and moves the row PENDING -> IN_QUEUE with its event, in
 * one statement, when the row is still as the submit left it (PENDING, no other request id). Anything else (a
 * cancel or an orphan verdict got there first, or a retry after a partial write) returns no row, and the caller
 * takes the general path: the separate guarded writes and a read of the row. $1 id, $2 fal request id, $3 queue
 * position, $4 write time. Returns the IN_QUEUE event's sequence.
 */
export const QUEUE_SUBMITTED_SQL = `
  WITH g AS (
    UPDATE "Generation"
       SET "falRequestId" = $2::text, status = 'IN_QUEUE', "queuePosition" = $3::int,
           "lastSequence" = "lastSequence" + 1, "updatedAt" = $4::timestamp(3)
     WHERE id = $1::uuid AND status = 'PENDING' AND ("falRequestId" IS NULL OR "falRequestId" = $2::text)
    RETURNING "lastSequence"
  ), event AS (
    INSERT INTO "GenerationEvent" ("generationId", sequence, kind, status, "queuePosition", "createdAt")
    SELECT $1::uuid, "lastSequence", 'STATUS', 'IN_QUEUE', $3::int, $4::timestamp(3) FROM g
  )
  SELECT "lastSequence" AS sequence FROM g`;

/**
 * Serialises the submissions of one tenant (on every instance) until the transaction ends, so a quota check and
 * the insert it allows are one step. $1 tenant. The constant keeps this lock apart from others on hashtext.
 */
export const LOCK_TENANT_SQL = `SELECT true AS locked FROM pg_advisory_xact_lock(72707370, hashtext($1::text))`;

/**
 * The generation an idempotency key already names, if any: $1 tenant, $2 key. Its age is judged on the
 * application's clock (as the window always was), so createdAt comes back as epoch milliseconds.
 */
export const FIND_BY_IDEMPOTENCY_KEY_SQL = `
  SELECT id::text AS id, "idempotencyHash" AS hash, (extract(epoch FROM "createdAt") * 1000)::float8 AS "createdMs"
    FROM "Generation" WHERE "tenantId" = $1::text AND "idempotencyKey" = $2::text`;

/** Frees an idempotency key older than its window ($1 id), so a new generation may take it. */
export const RELEASE_IDEMPOTENCY_KEY_SQL = `UPDATE "Generation" SET "idempotencyKey" = NULL WHERE id = $1::uuid`;

/** Runs fn in one transaction on one connection, on the driver when the app has one, otherwise through Prisma. */
export function inTransaction<T>(
  db: PrismaClient,
  sql: (SqlSession & Partial<Pick<Database, 'withSession'>>) | undefined,
  fn: (run: RunSql) => Promise<T>,
): Promise<T> {
  if (sql?.withSession) return sql.withSession((session) => session.transaction((tx) => fn(sqlRunner(db, tx))));
  return db.$transaction((tx) => fn(<R>(text: string, params: unknown[]) => tx.$queryRawUnsafe<R[]>(text, ...params)), {
    // Waiting behind other submissions of the same tenant is normal under load; give it time.
    maxWait: 30_000,
    timeout: 30_000,
  });
}
