import { z } from 'zod';
import { InputValidationError, type FieldProblem } from './errors.ts';

/** The request as a client gives it (GraphQL `GenerateVideoInput`, the CLI, ...). */
export interface GenerateVideoRequest {
  imageUrl: string;
  endImageUrl?: string | null;
  prompt?: string | null;
  multiPrompt?: Array<{ prompt: string; duration?: number | null }> | null;
  duration?: number | null;
  generateAudio?: boolean | null;
  shotType?: string | null;
  /** Same key + same input within 24 hours returns the same generation, never a second fal submit. */
  idempotencyKey?: string | null;
}

export interface VideoShot {
  prompt: string;
  duration: number | null;
}

/** A request that passed every check, with defaults applied. */
export interface ValidGenerateVideoRequest {
  imageUrl: string;
  endImageUrl: string | null;
  prompt: string | null;
  multiPrompt: VideoShot[] | null;
  duration: number;
  generateAudio: boolean;
  shotType: string;
  idempotencyKey: string | null;
}

// Limits from the model page (../shared/seed) and the protocol reference §12: 3-15 s, prompt <= 2,500
// characters (a longer one is a 422 at fal, after the request was queued).
export const MIN_DURATION_S = 3;
export const MAX_DURATION_S = 15;
export const MAX_PROMPT_CHARS = 2500;

/**
 * Text that can be stored and sent on: PostgreSQL refuses NUL (U+0000) in text and JSON columns, and a lone
 * UTF-16 surrogate has no UTF-8 form. Either would fail at the database write ("Unexpected error."), after
 * the request looked valid, so both are input errors here. Checked first, and alone: other messages about
 * such a string (e.g. "must be an http(s) URL") would only distract.
 */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL (U+0000) characters';
  if (!value.isWellFormed()) return 'must be valid Unicode (it contains an unpaired surrogate)';
  return null;
}

const storable = <T extends z.ZodString>(s: T) =>
  s.check(
    z.superRefine((value: string, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value, continue: false });
    }),
  );

const httpUrl = storable(z.string({ error: 'is required' }))
  .trim()
  .min(1, 'is required')
  .max(4096, 'must be at most 4096 characters')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL');

const promptText = storable(z.string())
  .refine((p) => p.trim().length > 0, 'must not be empty')
  .refine((p) => p.length <= MAX_PROMPT_CHARS, `must be at most ${MAX_PROMPT_CHARS} characters`);

const shot = z.object({
  prompt: promptText,
  duration: z.number().int().min(1, 'must be between 1 and 15 seconds').max(MAX_DURATION_S, 'must be between 1 and 15 seconds').nullish(),
});

const fields = {
  imageUrl: httpUrl,
  endImageUrl: httpUrl.nullish(),
  prompt: promptText.nullish(),
  multiPrompt: z.array(shot).min(1, 'must contain at least one shot').max(20, 'must contain at most 20 shots').nullish(),
  duration: z
    .number()
    .int('must be a whole number of seconds')
    .min(MIN_DURATION_S, `must be between ${MIN_DURATION_S} and ${MAX_DURATION_S} seconds`)
    .max(MAX_DURATION_S, `must be between ${MIN_DURATION_S} and ${MAX_DURATION_S} seconds`)
    .nullish(),
  generateAudio: z.boolean().nullish(),
  shotType: storable(z.string()).trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters').nullish(),
  idempotencyKey: storable(z.string()).min(1, 'must not be empty').max(255, 'must be at most 255 characters').nullish(),
};

const promptRule = (value: { prompt?: string | null; multiPrompt?: unknown }, ctx: z.RefinementCtx) => {
  const hasPrompt = value.prompt !== null && value.prompt !== undefined;
  const hasShots = value.multiPrompt !== null && value.multiPrompt !== undefined;
  if (hasPrompt && hasShots) {
    ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'give either prompt or multiPrompt, not both' });
  } else if (!hasPrompt && !hasShots) {
    ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'give either prompt or multiPrompt' });
  }
};

const schema = z.object(fields).superRefine(promptRule);
// A frame given as a file has no URL yet: its URL field is checked only when given (frameSourceProblems
// says which of the two is required).
const inputSchema = z.object({ ...fields, imageUrl: httpUrl.nullish() }).superRefine(promptRule);

type Parsed = z.infer<typeof inputSchema>;

const toProblems = (issues: z.core.$ZodIssue[], pathPrefix: string[]): FieldProblem[] =>
  issues.map((issue) => ({ path: [...pathPrefix, ...issue.path.map(String)], message: issue.message }));

function normalised(v: Parsed, imageUrl: string, endImageUrl: string | null): ValidGenerateVideoRequest {
  return {
    imageUrl,
    endImageUrl,
    prompt: v.prompt ?? null,
    multiPrompt: v.multiPrompt ? v.multiPrompt.map((s) => ({ prompt: s.prompt, duration: s.duration ?? null })) : null,
    duration: v.duration ?? 5,
    generateAudio: v.generateAudio ?? false,
    shotType: v.shotType ?? 'customize',
    idempotencyKey: v.idempotencyKey ?? null,
  };
}

/**
 * Checks a request before any money is spent. Throws InputValidationError listing every problem with its
 * path from `input` down, so a client can point at the offending form field.
 */
export function validateGenerateVideoRequest(request: GenerateVideoRequest, pathPrefix: string[] = ['input']): ValidGenerateVideoRequest {
  const parsed = schema.safeParse(request);
  if (!parsed.success) throw new InputValidationError(toProblems(parsed.error.issues, pathPrefix));
  return normalised(parsed.data, parsed.data.imageUrl, parsed.data.endImageUrl ?? null);
}

/** GenerateVideoInput as the API receives it: each frame as a URL or as an uploaded file. */
export type GenerateVideoInput = Omit<GenerateVideoRequest, 'imageUrl'> & {
  imageUrl?: string | null;
  image?: Blob | null;
  endImage?: Blob | null;
};

/** An input that passed every check except the uploaded files' own (size, type), which src/uploads does. */
export interface CheckedInput {
  /** The request with defaults applied; the frames' URLs are set once their files are uploaded. */
  build(frames: { imageUrl: string | null; endImageUrl: string | null }): ValidGenerateVideoRequest;
  imageUrl: string | null;
  endImageUrl: string | null;
}

/**
 * The one validation of a generateVideo input (frame sources and every field), before anything is uploaded
 * or spent: returns every problem at once, so they can be reported together with the files' problems.
 */
export function checkGenerateVideoInput(
  input: GenerateVideoInput,
  pathPrefix: string[] = ['input'],
): { problems: FieldProblem[]; checked: CheckedInput | null } {
  const { image: _image, endImage: _endImage, ...rest } = input;
  const problems = frameSourceProblems(input, pathPrefix);
  const parsed = inputSchema.safeParse(rest);
  if (!parsed.success) return { problems: [...problems, ...toProblems(parsed.error.issues, pathPrefix)], checked: null };
  const v = parsed.data;
  const checked: CheckedInput = {
    imageUrl: v.imageUrl ?? null,
    endImageUrl: v.endImageUrl ?? null,
    build: (frames) => normalised(v, frames.imageUrl as string, frames.endImageUrl),
  };
  return { problems, checked: problems.length === 0 ? checked : null };
}

/** Where a frame comes from: a URL, or a file the client uploaded with the request (GraphQL multipart). */
export interface FrameSources {
  imageUrl?: string | null;
  image?: unknown;
  endImageUrl?: string | null;
  endImage?: unknown;
}

/**
 * The rules between URLs and uploaded files: exactly one of imageUrl and image, at most one of endImageUrl and
 * endImage. Returns the problems (empty when fine) so they can be reported together with the other checks.
 */
export function frameSourceProblems(input: FrameSources, pathPrefix: string[] = ['input']): FieldProblem[] {
  const given = (v: unknown) => v !== null && v !== undefined;
  const problems: FieldProblem[] = [];
  if (given(input.imageUrl) && given(input.image)) {
    problems.push({ path: [...pathPrefix, 'image'], message: 'give either imageUrl or image, not both' });
  } else if (!given(input.imageUrl) && !given(input.image)) {
    problems.push({ path: [...pathPrefix, 'imageUrl'], message: 'give either imageUrl or image (an uploaded file)' });
  }
  if (given(input.endImageUrl) && given(input.endImage)) {
    problems.push({ path: [...pathPrefix, 'endImage'], message: 'give either endImageUrl or endImage, not both' });
  }
  return problems;
}

/** The JSON body fal's Kling O3 image-to-video endpoint expects (durations are strings there, §12). */
export function toFalInput(request: ValidGenerateVideoRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    image_url: request.imageUrl,
    duration: String(request.duration),
    generate_audio: request.generateAudio,
    shot_type: request.shotType,
  };
  if (request.endImageUrl) body.end_image_url = request.endImageUrl;
  if (request.prompt !== null) body.prompt = request.prompt;
  if (request.multiPrompt) {
    body.multi_prompt = request.multiPrompt.map((s) =>
      s.duration === null ? { prompt: s.prompt } : { prompt: s.prompt, duration: String(s.duration) },
    );
  }
  return body;
}
