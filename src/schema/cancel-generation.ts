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
      generation: t.field({
        type: VideoGenerationRef,
        description: 'The generation, as it is after the cancel.',
        resolve: (outcome) => outcome.generation,
      }),
      cancelRequested: t.exposeBoolean('cancelRequested', {
        description: 'True when it was running and the cancel was sent to fal; false when it was CANCELLED at once.',
      }),
    }),
  });

builder.mutationField('cancelVideoGeneration', (t) =>
  t.field({
    type: CancelSuccess,
    description: 'Cancels a generation of the caller that has not finished yet.',
    args: { id: t.arg.id({ required: true, description: 'The generation, by global id (or its raw UUID).' }) },
    errors: {
      types: [GenerationAlreadyFinishedError, GenerationNotFoundError, RateLimitedError],
      union: { name: 'CancelVideoGenerationResult', description: 'The cancelled generation, or why nothing changed.' },
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
