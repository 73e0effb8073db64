import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSchemaSDL } from '../src/schema/index.ts';

describe('schema.graphql', () => {
  it('is the committed print of the Pothos schema (run `npm run print-schema` when this fails)', () => {
    const committed = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printSchemaSDL());
  });

  it('keeps the names clients depend on', () => {
    const sdl = printSchemaSDL();
    for (const fragment of [
      'generateVideo(input: GenerateVideoInput!): GenerateVideoResult!',
      'union GenerateVideoResult = GenerateVideoSuccess | IdempotencyKeyConflictError | InputValidationError',
      'cancelVideoGeneration(id: ID!): CancelVideoGenerationResult!',
      'videoGenerationEvents(afterSequence: Int, id: ID!): VideoGenerationEvent!',
      'videoGenerationUpdated: VideoGeneration!',
      'node(id: ID!): Node',
      'serverInfo: ServerInfo!',
      'interface Error',
    ]) {
      expect(sdl).toContain(fragment);
    }
  });
});
