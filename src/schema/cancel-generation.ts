import { GenerationAlreadyFinishedError, GenerationNotFoundError, RateLimitedError } from '../generations/errors.ts';
import { builder } from './builder.ts';
import { generationIdFromArg } from './ids.ts';
import { VideoGenerationRef } from './video-generation.ts';

const CancelSuccess = builder
  .objectRef<{ generation: typeof VideoGenerationRef.$inferType; cancelRequested: boolean }>('CancelVideoGenerationSuccess')
  .implement({
    description:
      'Queued generations are CANCELLED at once; for a running one the cancel was sent to fal (cancelRequested) and it ends however fal reports.',
    fields: (t) => ({
      generation: t.field({ type: VideoGenerationRef, resolve: (outcome) => outcome.generation }),
      cancelRequested: t.exposeBoolean('cancelRequested'),
    }),
  });

builder.mutationField('cancelVideoGeneration', (t) =>
  t.field({
    type: CancelSuccess,
    args: { id: t.arg.id({ required: true }) },
    errors: {
      types: [GenerationAlreadyFinishedError, GenerationNotFoundError, RateLimitedError],
      union: { name: 'CancelVideoGenerationResult' },
      directResult: true,
    },
    resolve: async (_root, args, ctx) => {
      await ctx.limitMutation();
      const id = generationIdFromArg(String(args.id));
      if (!id) throw new GenerationNotFoundError(String(args.id));
      return ctx.generations.cancelGeneration(id, ctx.caller);
    },
  }),
);
