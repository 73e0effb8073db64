import {
  IdempotencyKeyConflictError,
  InputValidationError,
  QuotaExceededError,
  RateLimitedError,
  StorageUnavailableError,
} from '../generations/errors.ts';
import { builder } from './builder.ts';
import { VideoGenerationRef } from './video-generation.ts';

const VideoShotInput = builder.inputType('VideoShotInput', {
  description: 'One shot of a multi-shot video.',
  fields: (t) => ({
    prompt: t.string({ required: true, description: 'What happens in this shot. At most 2,500 characters.' }),
    duration: t.int({ required: false, description: 'Seconds for this shot (1-15).' }),
  }),
});

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  description: 'One image-to-video request: a start frame, a prompt (or shots), and options. Checked before anything is sent to fal.',
  fields: (t) => ({
    imageUrl: t.string({ required: false, description: 'Start frame, an http(s) URL. Exactly one of imageUrl and image.' }),
    image: t.field({
      type: 'File',
      required: false,
      description: 'Start frame as an uploaded PNG, JPEG or WebP file (checked by content; size limit MAX_UPLOAD_BYTES, default 20 MB).',
    }),
    endImageUrl: t.string({ required: false, description: 'Optional end frame, an http(s) URL.' }),
    endImage: t.field({
      type: 'File',
      required: false,
      description: 'Optional end frame as an uploaded file, instead of endImageUrl.',
    }),
    prompt: t.string({ required: false, description: 'Exactly one of prompt and multiPrompt. At most 2,500 characters.' }),
    multiPrompt: t.field({ type: [VideoShotInput], required: false, description: 'A list of shots, instead of prompt.' }),
    duration: t.int({ required: false, defaultValue: 5, description: 'Seconds of video, 3 to 15.' }),
    generateAudio: t.boolean({ required: false, defaultValue: false, description: 'Generate native audio (costs more).' }),
    shotType: t.string({
      required: false,
      defaultValue: 'customize',
      description: "The model's kind of multi-shot generation, passed to fal as shot_type (at most 64 characters).",
    }),
    idempotencyKey: t.string({
      required: false,
      description:
        'Retrying with the same key and input within 24 hours returns the same generation instead of paying again (at most 255 characters).',
    }),
  }),
});

builder.mutationField('generateVideo', (t) =>
  t.field({
    type: VideoGenerationRef,
    description: 'Validates the input, records the generation and submits it to fal. Follow it with videoGenerationEvents.',
    args: { input: t.arg({ type: GenerateVideoInput, required: true, description: 'What to generate.' }) },
    errors: {
      types: [InputValidationError, IdempotencyKeyConflictError, QuotaExceededError, RateLimitedError, StorageUnavailableError],
      union: { name: 'GenerateVideoResult', description: 'The recorded generation, or why nothing was submitted.' },
      result: {
        name: 'GenerateVideoSuccess',
        description: 'The generation was recorded and submitted to fal (or an earlier one with the same idempotency key was found).',
      },
      dataField: { name: 'generation', description: 'The new generation (or the earlier one with the same idempotency key).' },
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.limitMutation();
      // The domain checks everything once, uploads frames given as files and submits (src/generations/submit.ts).
      return ctx.generations.generateVideo(input, ctx.caller);
    },
  }),
);
