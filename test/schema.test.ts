import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  buildASTSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  parse,
  printSchema,
  visit,
  type GraphQLSchema,
} from 'graphql';
import { buildSchema, printSchemaSDL } from '../src/schema/index.ts';

describe('schema.graphql', () => {
  it('is the committed print of the Pothos schema (run `npm run print-schema` when this fails)', () => {
    const committed = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printSchemaSDL());
  });

  it('keeps the names clients depend on', () => {
    const sdl = withoutDescriptions(printSchemaSDL());
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

describe('descriptions', () => {
  it('every type, field, argument, input field and enum value of ours has one', () => {
    const missing = undocumented(buildSchema());
    expect(missing, 'add a `description` to each of these in src/schema').toEqual([]);
  });
});

/** Schema coordinates (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`) that lack a description. */
function undocumented(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const lacks = (thing: { description?: string | null }) => !thing.description?.trim();
  for (const type of Object.values(schema.getTypeMap())) {
    // Introspection types and the built-in scalars come documented by graphql-js, and are not ours to describe.
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    if (lacks(type)) missing.push(type.name);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (lacks(field)) missing.push(`${type.name}.${field.name}`);
        for (const arg of field.args) if (lacks(arg)) missing.push(`${type.name}.${field.name}(${arg.name}:)`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) if (lacks(field)) missing.push(`${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) if (lacks(value)) missing.push(`${type.name}.${value.name}`);
    }
  }
  return missing;
}

/** The SDL as printSchema prints it, without descriptions (which would split a field's arguments over lines). */
function withoutDescriptions(sdl: string): string {
  const bare = visit(parse(sdl), {
    enter: (node) => ('description' in node && node.description ? { ...node, description: undefined } : undefined),
  });
  return printSchema(buildASTSchema(bare));
}

describe('GenerationError.code', () => {
  it('documents every fixed code the domain and the fal gateway record', async () => {
    const type = buildSchema().getType('GenerationError');
    if (!isObjectType(type)) throw new Error('GenerationError is not an object type');
    const documented = type.getFields().code.description ?? '';
    const recorded = new Set<string>();
    for (const folder of ['generations', 'fal']) {
      const root = new URL(`../src/${folder}/`, import.meta.url);
      for (const file of await readdir(root, { recursive: true })) {
        if (!file.endsWith('.ts')) continue;
        const source = readFileSync(new URL(file, root), 'utf8');
        for (const [, code] of source.matchAll(/\bcode: '([A-Z][A-Z0-9_]+)'/g)) recorded.add(code);
      }
    }
    expect(recorded.size, 'codes found in src/generations and src/fal').toBeGreaterThan(5);
    expect([...recorded].filter((code) => !documented.includes(`- ${code}:`))).toEqual([]);
  });
});
