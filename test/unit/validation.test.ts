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
    expect(toFalInput(valid)).toEqual({
      image_url: 'https://x.test/a.png',
      prompt: 'hi',
      duration: '5',
      generate_audio: false,
      shot_type: 'customize',
    });
  });

  it('lists every problem with its path', () => {
    const errors = problems({ imageUrl: 'x', duration: 99, multiPrompt: [{ prompt: '' }] });
    expect(errors.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        ['input', 'imageUrl'],
        ['input', 'duration'],
        ['input', 'multiPrompt', '0', 'prompt'],
      ]),
    );
  });

  it('rejects a non-integer duration and a shot duration out of range', () => {
    expect(problems({ imageUrl: 'https://x.test/a', prompt: 'p', duration: 4.5 }).map((e) => e.path)).toEqual([['input', 'duration']]);
    expect(problems({ imageUrl: 'https://x.test/a', multiPrompt: [{ prompt: 'p', duration: 0 }] }).map((e) => e.path)).toEqual([
      ['input', 'multiPrompt', '0', 'duration'],
    ]);
  });
});

describe('characters that cannot be stored', () => {
  const NUL = 'a\u0000b';
  const LONE_HIGH = 'a\ud800b';
  const LONE_LOW = '\udc00';
  const base = { imageUrl: 'https://x.test/a.png', prompt: 'p' };
  const cases: Array<[string, Parameters<typeof validateGenerateVideoRequest>[0], string[]]> = [];
  for (const [name, bad] of [
    ['NUL', NUL],
    ['lone high surrogate', LONE_HIGH],
    ['lone low surrogate', LONE_LOW],
  ] as const) {
    cases.push(
      [`${name} in prompt`, { ...base, prompt: bad }, ['input', 'prompt']],
      [`${name} in idempotencyKey`, { ...base, idempotencyKey: bad }, ['input', 'idempotencyKey']],
      [`${name} in imageUrl`, { ...base, imageUrl: `https://x.test/${bad}.png` }, ['input', 'imageUrl']],
      [`${name} in endImageUrl`, { ...base, endImageUrl: `https://x.test/${bad}.png` }, ['input', 'endImageUrl']],
      [`${name} in shotType`, { ...base, shotType: bad }, ['input', 'shotType']],
      [
        `${name} in a shot's prompt`,
        { imageUrl: base.imageUrl, multiPrompt: [{ prompt: 'fine' }, { prompt: bad }] },
        ['input', 'multiPrompt', '1', 'prompt'],
      ],
    );
  }

  it.each(cases)('%s is an input error on that field alone', (_name, request, path) => {
    const errors = problems(request);
    expect(errors.map((e) => e.path)).toEqual([path]);
    expect(errors[0].message).toMatch(/NUL|Unicode/);
  });

  it('accepts well-formed text outside the Basic Multilingual Plane (surrogate pairs)', () => {
    const valid = validateGenerateVideoRequest({ ...base, prompt: 'a cat \u{1F408} walks', idempotencyKey: '\u{1F511}' });
    expect(valid.prompt).toBe('a cat \u{1F408} walks');
  });
});
