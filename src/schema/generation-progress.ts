import type { PrismaClient } from '../db/index.ts';
import { createProgressEstimator, type Progress, type ProgressEstimator } from '../generations/estimate-progress.ts';
import { builder } from './builder.ts';
import { VideoGenerationRef } from './video-generation.ts';

export const GenerationProgressRef = builder.objectRef<Progress>('GenerationProgress').implement({
  description:
    "How far a generation has come and when it should finish, estimated from this server's own history: the median queue " +
    'wait and run time of completed generations with the same endpoint, duration and audio setting (at least 3 from the ' +
    'last 7 days). Each field is null when there is no such basis. A finished generation has fraction 1 and ETA 0.',
  fields: (t) => ({
    fraction: t.exposeFloat('fraction', {
      nullable: true,
      description: 'Done so far, from 0 to 1: strictly between 0 and 1 while queued or running, 1 once finished.',
    }),
    etaSeconds: t.exposeInt('etaSeconds', {
      nullable: true,
      description: 'Seconds until the generation is expected to finish (rounded up; at least 1 while active), 0 once finished.',
    }),
    estimatedCompletionAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the generation is expected to finish; once finished, when it did.',
      resolve: (progress) => progress.estimatedCompletionAt,
    }),
  }),
});

// One estimator (and medians cache) per database client, so per app instance: the request context is built
// elsewhere and carries the client, and the cache goes with the client when the app stops.
const estimators = new WeakMap<PrismaClient, ProgressEstimator>();
function estimatorFor(db: PrismaClient): ProgressEstimator {
  let estimator = estimators.get(db);
  if (!estimator) estimators.set(db, (estimator = createProgressEstimator(db)));
  return estimator;
}

builder.objectField(VideoGenerationRef, 'progress', (t) =>
  t.field({
    type: GenerationProgressRef,
    description: 'Progress and estimated time to completion (see GenerationProgress).',
    // Reads status, endpointId, duration, generateAudio and the timestamps, which every query of the row selects.
    resolve: (generation, _args, ctx) => estimatorFor(ctx.db).estimate(generation),
  }),
);
