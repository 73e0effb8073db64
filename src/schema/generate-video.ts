import { IdempotencyKeyConflictError, InputValidationError } from '../generations/errors.ts';
import { builder } from './builder.ts';
import { VideoGenerationRef } from './video-generation.ts';

const VideoShotInput = builder.inputType('VideoShotInput', {
  fields: (t) => ({
    prompt: t.string({ required: true }),
    duration: t.int({ required: false, description: 'Seconds for this shot (1-15).' }),
  }),
});

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  fields: (t) => ({
    imageUrl: t.string({ required: true, description: 'Start frame, an http(s) URL.' }),
    endImageUrl: t.string({ required: false, description: 'Optional end frame, an http(s) URL.' }),
    prompt: t.string({ required: false, description: 'Exactly one of prompt and multiPrompt. At most 2,500 characters.' }),
    multiPrompt: t.field({ type: [VideoShotInput], required: false, description: 'A list of shots, instead of prompt.' }),
    duration: t.int({ required: false, defaultValue: 5, description: 'Seconds of video, 3 to 15.' }),
    generateAudio: t.boolean({ required: false, defaultValue: false, description: 'Generate native audio (costs more).' }),
    shotType: t.string({ required: false, defaultValue: 'customize' }),
    idempotencyKey: t.string({
      required: false,
      description: 'Retrying with the same key and input within 24 hours returns the same generation instead of paying again (at most 255 characters).',
    }),
  }),
});

builder.mutationField('generateVideo', (t) =>
  t.field({
    type: VideoGenerationRef,
    description: 'Validates the input, records the generation and submits it to fal. Follow it with videoGenerationEvents.',
    args: { input: t.arg({ type: GenerateVideoInput, required: true }) },
    errors: {
      types: [InputValidationError, IdempotencyKeyConflictError],
      union: { name: 'GenerateVideoResult' },
      result: { name: 'GenerateVideoSuccess' },
      dataField: { name: 'generation' },
    },
    resolve: (_root, { input }, ctx) => ctx.generations.generateVideo(input, ctx.caller),
  }),
);
