import { GraphQLError } from 'graphql';
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
  fields: (t) => ({
    prompt: t.string({ required: true }),
    duration: t.int({ required: false, description: 'Seconds for this shot (1-15).' }),
  }),
});

/**
 * An uploaded file (GraphQL multipart request spec): Yoga parses multipart requests and hands the resolver a
 * web File. Input only.
 */
const FileScalar = builder.scalarType('File', {
  description: 'A file uploaded with the request (GraphQL multipart request spec).',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value: unknown) => {
    // Yoga's multipart parser hands over @whatwg-node's File, which is not an instance of Node's global Blob.
    if (isBlobLike(value)) return value;
    throw new GraphQLError('File must be a file sent in a multipart request');
  },
  parseLiteral: () => {
    throw new GraphQLError('File must be a file sent in a multipart request, not a literal');
  },
});

function isBlobLike(value: unknown): value is Blob {
  const v = value as Partial<Blob> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.size === 'number' &&
    typeof v.arrayBuffer === 'function' &&
    typeof v.slice === 'function'
  );
}

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  fields: (t) => ({
    imageUrl: t.string({ required: false, description: 'Start frame, an http(s) URL. Exactly one of imageUrl and image.' }),
    image: t.field({
      type: FileScalar,
      required: false,
      description: 'Start frame as an uploaded PNG, JPEG or WebP file (checked by content; size limit MAX_UPLOAD_BYTES, default 20 MB).',
    }),
    endImageUrl: t.string({ required: false, description: 'Optional end frame, an http(s) URL.' }),
    endImage: t.field({
      type: FileScalar,
      required: false,
      description: 'Optional end frame as an uploaded file, instead of endImageUrl.',
    }),
    prompt: t.string({ required: false, description: 'Exactly one of prompt and multiPrompt. At most 2,500 characters.' }),
    multiPrompt: t.field({ type: [VideoShotInput], required: false, description: 'A list of shots, instead of prompt.' }),
    duration: t.int({ required: false, defaultValue: 5, description: 'Seconds of video, 3 to 15.' }),
    generateAudio: t.boolean({ required: false, defaultValue: false, description: 'Generate native audio (costs more).' }),
    shotType: t.string({ required: false, defaultValue: 'customize' }),
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
    args: { input: t.arg({ type: GenerateVideoInput, required: true }) },
    errors: {
      types: [InputValidationError, IdempotencyKeyConflictError, QuotaExceededError, RateLimitedError, StorageUnavailableError],
      union: { name: 'GenerateVideoResult' },
      result: { name: 'GenerateVideoSuccess' },
      dataField: { name: 'generation' },
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.limitMutation();
      // The domain checks everything once, uploads frames given as files and submits (src/generations/submit.ts).
      return ctx.generations.generateVideo(input, ctx.caller);
    },
  }),
);
