/**
 * The checks fal's Kling O3 image-to-video endpoint applies to its input (../shared/seed and protocol §12),
 * as FastAPI/Pydantic-style error objects (protocol §5.1). fal accepts the submit and reports these from the
 * result endpoint after the request completes (protocol §11.1), and so does the simulator.
 */
export interface FalErrorDetail {
  loc: string[];
  msg: string;
  type: string;
  input?: unknown;
}

const DURATIONS = Array.from({ length: 13 }, (_, i) => String(i + 3));
const MAX_PROMPT = 2500;

export function validateKlingInput(input: unknown): FalErrorDetail[] {
  const errors: FalErrorDetail[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return [{ loc: ['body'], msg: 'Input should be a valid dictionary', type: 'dict_type', input }];
  }
  const body = input as Record<string, unknown>;
  const at = (field: string, msg: string, type: string) => errors.push({ loc: ['body', field], msg, type, input: body[field] });

  if (body.image_url === undefined || body.image_url === null) at('image_url', 'Field required', 'missing');
  else if (typeof body.image_url !== 'string') at('image_url', 'Input should be a valid string', 'string_type');
  if (body.end_image_url !== undefined && body.end_image_url !== null && typeof body.end_image_url !== 'string') {
    at('end_image_url', 'Input should be a valid string', 'string_type');
  }

  const hasPrompt = body.prompt !== undefined && body.prompt !== null;
  const hasShots = body.multi_prompt !== undefined && body.multi_prompt !== null;
  if (hasPrompt === hasShots) {
    errors.push({ loc: ['body'], msg: 'Either prompt or multi_prompt must be provided, but not both', type: 'value_error' });
  }
  if (hasPrompt) {
    if (typeof body.prompt !== 'string') at('prompt', 'Input should be a valid string', 'string_type');
    else if (body.prompt.length > MAX_PROMPT) at('prompt', `String should have at most ${MAX_PROMPT} characters`, 'string_too_long');
  }
  if (hasShots) {
    if (!Array.isArray(body.multi_prompt)) at('multi_prompt', 'Input should be a valid list', 'list_type');
    else {
      body.multi_prompt.forEach((shot: unknown, i) => {
        const s = (shot ?? {}) as Record<string, unknown>;
        if (typeof s.prompt !== 'string') {
          errors.push({ loc: ['body', 'multi_prompt', String(i), 'prompt'], msg: 'Field required', type: 'missing' });
        }
        if (s.duration !== undefined && !Array.from({ length: 15 }, (_, n) => String(n + 1)).includes(String(s.duration))) {
          errors.push({ loc: ['body', 'multi_prompt', String(i), 'duration'], msg: 'Input should be 1 to 15', type: 'enum', input: s.duration });
        }
      });
    }
  }
  if (body.duration !== undefined && !DURATIONS.includes(body.duration as string)) {
    at('duration', `Input should be ${DURATIONS.map((d) => `'${d}'`).join(', ')}`, 'enum');
  }
  if (body.generate_audio !== undefined && typeof body.generate_audio !== 'boolean') at('generate_audio', 'Input should be a valid boolean', 'bool_type');
  if (body.shot_type !== undefined && typeof body.shot_type !== 'string') at('shot_type', 'Input should be a valid string', 'string_type');
  return errors;
}

export const KNOWN_ENDPOINTS = new Set(['fal-ai/kling-video/o3/standard/image-to-video', 'fal-ai/kling-video/o3/pro/image-to-video']);
