import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { IMAGE } from '../helpers/generation.ts';
import { GENERATE, gql } from '../helpers/graphql.ts';

// PostgreSQL refuses NUL in text and JSON, and a lone surrogate has no UTF-8 form: before these were input
// errors, each of them reached the insert and came back as "Unexpected error.". JSON variables carry both
// through Yoga unchanged (JSON.stringify writes a lone surrogate as a \ud800 escape).
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.dispose());

const cases: Array<[string, Record<string, unknown>, string[]]> = [
  ['NUL in prompt', { prompt: 'a cat\u0000 walks' }, ['input', 'prompt']],
  ['lone surrogate in prompt', { prompt: 'a cat \ud83d walks' }, ['input', 'prompt']],
  ['NUL in idempotencyKey', { idempotencyKey: 'key\u0000' }, ['input', 'idempotencyKey']],
  ['lone surrogate in idempotencyKey', { idempotencyKey: '\udc00' }, ['input', 'idempotencyKey']],
  ['NUL in imageUrl', { imageUrl: 'https://example.com/a\u0000.png' }, ['input', 'imageUrl']],
  ['lone surrogate in endImageUrl', { endImageUrl: 'https://example.com/\ud800.png' }, ['input', 'endImageUrl']],
  ['NUL in shotType', { shotType: 'custom\u0000ize' }, ['input', 'shotType']],
  [
    'lone surrogate in a shot prompt',
    { prompt: null, multiPrompt: [{ prompt: 'one' }, { prompt: 'two \udfff' }] },
    ['input', 'multiPrompt', '1', 'prompt'],
  ],
];

describe('characters the database cannot store', () => {
  it.each(cases)('%s is an InputValidationError with its field path, and nothing is stored or submitted', async (_name, input, path) => {
    const result = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'a cat walks', ...input } });
    expect(result.errors).toBeUndefined();
    expect(result.data.generateVideo.__typename).toBe('InputValidationError');
    expect(result.data.generateVideo.fieldErrors.map((e: { path: string[] }) => e.path)).toEqual([path]);
    expect(await server.running.database.prisma.generation.count()).toBe(0);
    expect(server.sim.stats.submits).toBe(0);
  });
});
