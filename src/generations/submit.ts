import { createHash, randomUUIDv7 } from 'node:crypto';
import type { Generation } from '../db/index.ts';
import { FalRequestError } from '../fal/types.ts';
import { addLogContext, logScope } from '../log/context.ts';
import { estimateCostMicros } from '../billing/prices.ts';
import { checkFrameFiles, uploadFrames } from '../uploads/request.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Caller } from './caller.ts';
import type { DomainContext } from './context.ts';
import { IdempotencyKeyConflictError, InputValidationError, QuotaExceededError, StorageUnavailableError } from './errors.ts';
import { checkQuotas, hasQuotas } from './quota.ts';
import { sqlRunner } from './store-sql.ts';
import {
  FIND_BY_IDEMPOTENCY_KEY_SQL,
  inTransaction,
  INSERT_GENERATION_SQL,
  LOCK_TENANT_SQL,
  RELEASE_IDEMPOTENCY_KEY_SQL,
} from './submit-sql.ts';
import type { SubmissionRecorder } from './record-submission.ts';
import { checkGenerateVideoInput, toFalInput, type GenerateVideoInput, type ValidGenerateVideoRequest } from './validation.ts';

/**
 * How long an idempotency key holds: a retry with the same key and input within this window returns the same
 * generation (and reuses its uploaded frames); an older key is free again, and its uploads may have expired.
 */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * The generateVideo verb: validates, writes the row (PENDING, with the exact fal input) and only then submits
 * to fal, storing fal's request id the moment it is known. A crash at any point leaves a row that recovery
 * resolves.
 */
export function createSubmit(ctx: DomainContext, recorder: SubmissionRecorder) {
  const { deps, store, publish, emitter } = ctx;
  const { db, fal, logger } = deps;

  return logScope(async (input: GenerateVideoInput, caller: Caller) => {
    addLogContext({ tenantId: caller.tenantId });
    const valid = await prepare(ctx, input, caller);
    const falInput = toFalInput(valid);
    const hash = createHash('sha256').update(JSON.stringify(falInput)).digest('hex');
    const now = new Date();
    // The row exactly as INSERT_GENERATION_SQL stores it (every other column at its default), so the answer
    // needs no read-back. Ids are UUIDv7, as Prisma's @default(uuid(7)) makes them: time-ordered, like history.
    const row: Generation = {
      id: randomUUIDv7(),
      tenantId: caller.tenantId,
      status: 'PENDING',
      backend: deps.backend,
      endpointId: deps.endpointId,
      falRequestId: null,
      queuePosition: null,
      imageUrl: valid.imageUrl,
      endImageUrl: valid.endImageUrl,
      prompt: valid.prompt,
      multiPrompt: valid.multiPrompt as Generation['multiPrompt'],
      duration: valid.duration,
      generateAudio: valid.generateAudio,
      shotType: valid.shotType,
      falInput: falInput as Generation['falInput'],
      idempotencyKey: valid.idempotencyKey,
      idempotencyHash: valid.idempotencyKey ? hash : null,
      cancelRequestedAt: null,
      deadlineAt: new Date(now.getTime() + deps.deadlines.overallSeconds * 1000),
      webhookOutcome: null,
      estimatedCostMicros: estimateCostMicros(deps.prices, valid),
      lastSequence: 1,
      errorCode: null,
      errorMessage: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      completedAt: null,
    };
    const { row: created, reused } = await insertOrReuse(ctx, row, caller).catch((error: unknown) => {
      if (error instanceof IdempotencyKeyConflictError || error instanceof QuotaExceededError) throw error;
      // Nothing was sent to fal yet, so the client may simply retry: say so, instead of "Unexpected error.".
      logger.error(`generateVideo: could not record the request, nothing was submitted: ${errorMessage(error)}`);
      throw new StorageUnavailableError();
    });
    addLogContext({ generationId: created.id });
    if (reused) return created;
    deps.metrics?.generationCreated();
    emitter.emit('created', { generationId: created.id, tenantId: caller.tenantId, at: now });
    const announce = publish(caller.tenantId);
    announce([{ kind: 'STATUS', generationId: created.id, sequence: 1, status: 'PENDING', queuePosition: null, at: now }]);

    let falRequestId: string;
    let queuePosition: number | null;
    try {
      ({ requestId: falRequestId, queuePosition } = await fal.submit(deps.endpointId, falInput, {
        webhookUrl: deps.webhookUrl(created.id) ?? undefined,
        startTimeoutSeconds: deps.deadlines.startTimeoutSeconds ?? undefined,
      }));
    } catch (error) {
      const { code, message } =
        error instanceof FalRequestError ? error : { code: 'FAL_SUBMIT_FAILED', message: 'submitting to fal failed' };
      logger.warn(`generation ${created.id}: submit failed: ${code}: ${message}`);
      try {
        const event = await store.transition(created.id, 'FAILED', { error: { code, message } });
        if (event) announce([event]);
        return await db.generation.findUniqueOrThrow({ where: { id: created.id } });
      } catch (writeError) {
        // The row stays PENDING without a request id: the orphan scan fails it with SUBMISSION_UNKNOWN.
        logger.error(`generation ${created.id}: could not record the failed submit: ${errorMessage(writeError)}`);
        return created;
      }
    }
    addLogContext({ falRequestId });
    emitter.emit('submitted', { generationId: created.id, tenantId: caller.tenantId, falRequestId });
    // fal has the request from here on: whatever storage does now, the answer is a success, never an error
    // that would make a client without an idempotency key pay a second time.
    try {
      return await recorder.settle(created, falRequestId, queuePosition, announce);
    } catch (error) {
      logger.error(
        `generation ${created.id}: fal accepted request ${falRequestId} but recording it failed (${errorMessage(error)}); retrying in the background`,
      );
      recorder.retryInBackground(created, falRequestId, queuePosition, announce);
      return { ...created, falRequestId };
    }
  });
}

/**
 * The input checked once, every problem reported together (fields, frame sources, the files themselves), so a
 * bad prompt never costs an upload and a bad file never reaches fal. Then frames given as files are uploaded,
 * reusing the upload of an earlier attempt with the same idempotency key.
 */
async function prepare(ctx: DomainContext, input: GenerateVideoInput, caller: Caller): Promise<ValidGenerateVideoRequest> {
  const { problems, checked } = checkGenerateVideoInput(input);
  const files = { image: input.image, endImage: input.endImage };
  if (!files.image && !files.endImage) {
    if (!checked) throw new InputValidationError(problems);
    return checked.build(checked);
  }
  const uploads = ctx.deps.uploads;
  if (!uploads) throw new Error('frame uploads are not wired into this server');
  const { problems: fileProblems, frames } = await checkFrameFiles(files, uploads);
  if (!checked || fileProblems.length > 0) throw new InputValidationError([...problems, ...fileProblems]);
  const key = input.idempotencyKey;
  const earlier = key
    ? await ctx.deps.db.generation.findFirst({
        where: { tenantId: caller.tenantId, idempotencyKey: key, createdAt: { gte: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS) } },
        select: { imageUrl: true, endImageUrl: true },
      })
    : null;
  const uploaded = await uploadFrames(frames, uploads, earlier);
  return checked.build({ imageUrl: uploaded.imageUrl ?? checked.imageUrl, endImageUrl: uploaded.endImageUrl ?? checked.endImageUrl });
}

/** INSERT_GENERATION_SQL's parameters for a new row. */
function insertParams(row: Generation): unknown[] {
  return [
    row.id,
    row.tenantId,
    row.backend,
    row.endpointId,
    row.imageUrl,
    row.endImageUrl,
    row.prompt,
    row.multiPrompt === null ? null : JSON.stringify(row.multiPrompt),
    row.duration,
    row.generateAudio,
    row.shotType,
    JSON.stringify(row.falInput),
    row.idempotencyKey,
    row.idempotencyHash,
    row.deadlineAt?.toISOString() ?? null,
    row.estimatedCostMicros,
    row.createdAt.toISOString(),
  ];
}

type Outcome = { inserted: true } | { reuse: string } | { conflict: true } | { refused: QuotaExceededError };

/**
 * Inserts the PENDING row, or finds the generation an earlier request with the same key created. With a key or
 * a quota, under a per-tenant transaction lock: the quota check and the insert are one step, so concurrent
 * submissions (on any instance) cannot both take the last slot or the last dollar. A retried request (same key,
 * same input) is never refused by a quota: it was already counted. With neither there is nothing to check
 * first, and the insert is a single statement.
 */
async function insertOrReuse(ctx: DomainContext, row: Generation, caller: Caller): Promise<{ row: Generation; reused: boolean }> {
  const { db, sql, quotas } = ctx.deps;
  const key = row.idempotencyKey;
  if (key === null && !hasQuotas(quotas)) {
    await sqlRunner(db, sql)(INSERT_GENERATION_SQL, insertParams(row));
    return { row, reused: false };
  }
  // Expected refusals are returned, not thrown, so the transaction commits and its connection stays usable.
  const outcome = await inTransaction(db, sql, async (run): Promise<Outcome> => {
    await run(LOCK_TENANT_SQL, [caller.tenantId]);
    if (key !== null) {
      const [existing] = await run<{ id: string; hash: string | null; createdMs: number }>(FIND_BY_IDEMPOTENCY_KEY_SQL, [
        caller.tenantId,
        key,
      ]);
      // Older than the window: the key is free again.
      if (existing && Number(existing.createdMs) < Date.now() - IDEMPOTENCY_WINDOW_MS)
        await run(RELEASE_IDEMPOTENCY_KEY_SQL, [existing.id]);
      else if (existing) return existing.hash === row.idempotencyHash ? { reuse: existing.id } : { conflict: true };
    }
    const refused = await checkQuotas(run, quotas, caller.tenantId, row.estimatedCostMicros);
    if (refused) return { refused };
    await run(INSERT_GENERATION_SQL, insertParams(row));
    return { inserted: true };
  });
  if ('reuse' in outcome) return { row: await db.generation.findUniqueOrThrow({ where: { id: outcome.reuse } }), reused: true };
  if ('conflict' in outcome) throw new IdempotencyKeyConflictError(key!);
  if ('refused' in outcome) throw outcome.refused;
  return { row, reused: false };
}
