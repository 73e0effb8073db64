/**
 * The checks fal's Kling O3 image-to-video endpoint applies to its input (../shared/seed and protocol §12),
 * as FastAPI/Pydantic-style error objects (protocol §5.1). fal accepts the submit and reports these from the
 * result endpoint after the request completes (protocol §11.1), and so does the simulator.
 */
export interface FalErrorDetail {
  loc: Array<string | number>;
  msg: string;
  type: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
}

const DURATIONS = Array.from({ length: 13 }, (_, i) => String(i + 3));
const SHOT_DURATIONS = Array.from({ length: 15 }, (_, i) => String(i + 1));
const MAX_PROMPT = 2500;

/** Pydantic's wording for an enum mismatch: "Input should be '3', '4', ... or '15'". */
function expected(values: string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

export function validateKlingInput(input: unknown): FalErrorDetail[] {
  const errors: FalErrorDetail[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return [{ loc: ['body'], msg: 'Input should be a valid dictionary', type: 'dict_type', input }];
  }
  const body = input as Record<string, unknown>;
  const at = (field: string, msg: string, type: string) => errors.push({ loc: ['body', field], msg, type, input: body[field] });

  if (body.image_url === undefined) at('image_url', 'Field required', 'missing');
  else if (typeof body.image_url !== 'string') at('image_url', 'Input should be a valid string', 'string_type');
  if (body.end_image_url !== undefined && body.end_image_url !== null && typeof body.end_image_url !== 'string') {
    at('end_image_url', 'Input should be a valid string', 'string_type');
  }

  const hasPrompt = body.prompt !== undefined && body.prompt !== null;
  const hasShots = body.multi_prompt !== undefined && body.multi_prompt !== null;
  if (hasPrompt === hasShots) {
    // A model validator's ValueError, as pydantic reports it (multi_prompt: null counts as absent, as in the docs' example).
    errors.push({ loc: ['body'], msg: 'Value error, Either prompt or multi_prompt must be provided, but not both', type: 'value_error' });
  }
  if (hasPrompt) {
    if (typeof body.prompt !== 'string') at('prompt', 'Input should be a valid string', 'string_type');
    else if (body.prompt.length > MAX_PROMPT) at('prompt', `String should have at most ${MAX_PROMPT} characters`, 'string_too_long');
  }
  if (hasShots) {
    if (!Array.isArray(body.multi_prompt)) at('multi_prompt', 'Input should be a valid list', 'list_type');
    else {
      body.multi_prompt.forEach((shot: unknown, i) => {
        const s = (typeof shot === 'object' && shot !== null ? shot : {}) as Record<string, unknown>;
        if (s.prompt === undefined) errors.push({ loc: ['body', 'multi_prompt', i, 'prompt'], msg: 'Field required', type: 'missing' });
        else if (typeof s.prompt !== 'string') {
          errors.push({
            loc: ['body', 'multi_prompt', i, 'prompt'],
            msg: 'Input should be a valid string',
            type: 'string_type',
            input: s.prompt,
          });
        }
        if (s.duration !== undefined && !SHOT_DURATIONS.includes(s.duration as string)) {
          const msg = `Input should be ${expected(SHOT_DURATIONS)}`;
          errors.push({
            loc: ['body', 'multi_prompt', i, 'duration'],
            msg,
            type: 'enum',
            input: s.duration,
            ctx: { expected: expected(SHOT_DURATIONS) },
          });
        }
      });
    }
  }
  // Durations are strings (protocol §12); pydantic does not coerce the number 5 into the enum value "5".
  if (body.duration !== undefined && !DURATIONS.includes(body.duration as string)) {
    errors.push({
      loc: ['body', 'duration'],
      msg: `Input should be ${expected(DURATIONS)}`,
      type: 'enum',
      input: body.duration,
      ctx: { expected: expected(DURATIONS) },
    });
  }
  if (body.generate_audio !== undefined && typeof body.generate_audio !== 'boolean')
    at('generate_audio', 'Input should be a valid boolean', 'bool_type');
  if (body.shot_type !== undefined && typeof body.shot_type !== 'string') at('shot_type', 'Input should be a valid string', 'string_type');
  return errors;
}

export const KNOWN_ENDPOINTS = new Set(['fal-ai/kling-video/o3/standard/image-to-video', 'fal-ai/kling-video/o3/pro/image-to-video']);
