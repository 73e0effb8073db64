import { describe, expect, it } from 'vitest';
import { InputValidationError } from '../../src/generations/errors.ts';
import { toFalInput, validateGenerateVideoRequest } from '../../src/generations/validation.ts';

const problems = (request: Parameters<typeof validateGenerateVideoRequest>[0]) => {
  try {
    validateGenerateVideoRequest(request);
  } catch (error) {
    expect(error).toBeInstanceOf(InputValidationError);
    return (error as InputValidationError).fieldErrors;
  }
  throw new Error('expected the request to be rejected');
};

describe('validateGenerateVideoRequest', () => {
  it('applies the documented defaults', () => {
    const valid = validateGenerateVideoRequest({ imageUrl: 'https://x.test/a.png', prompt: 'hi' });
    expect(valid).toEqual({
      imageUrl: 'https://x.test/a.png',
      endImageUrl: null,
      prompt: 'hi',
      multiPrompt: null,
      duration: 5,
      generateAudio: false,
      shotType: 'customize',
      idempotencyKey: null,
    });
    expect(toFalInput(valid)).toEqual({ image_url: 'https://x.test/a.png', prompt: 'hi', duration: '5', generate_audio: false, shot_type: 'customize' });
  });

  it('lists every problem with its path', () => {
    const errors = problems({ imageUrl: 'x', duration: 99, multiPrompt: [{ prompt: '' }] });
    expect(errors.map((e) => e.path)).toEqual(
      expect.arrayContaining([['input', 'imageUrl'], ['input', 'duration'], ['input', 'multiPrompt', '0', 'prompt']]),
    );
  });

  it('rejects a non-integer duration and a shot duration out of range', () => {
    expect(problems({ imageUrl: 'https://x.test/a', prompt: 'p', duration: 4.5 }).map((e) => e.path)).toEqual([['input', 'duration']]);
    expect(problems({ imageUrl: 'https://x.test/a', multiPrompt: [{ prompt: 'p', duration: 0 }] }).map((e) => e.path)).toEqual([
      ['input', 'multiPrompt', '0', 'duration'],
    ]);
  });
});
