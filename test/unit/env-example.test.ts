import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EnvSchema } from '../../src/config.ts';

// .env.example documents every variable src/config.ts reads, each with its default, commented out
// (`# NAME=value`): a variable added to the schema without an entry there fails here, by name.
const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const uncommented = text
  .split('\n')
  .map((line) => /^#\s?([A-Z][A-Z0-9_]*=.*)$/.exec(line)?.[1] ?? line)
  .join('\n');
const example = parseEnv(uncommented);
const shape = EnvSchema.shape as Record<string, { safeParse(value: unknown): { success: boolean; data?: unknown } }>;

describe('.env.example', () => {
  it('lists every variable of the configuration schema', () => {
    const missing = Object.keys(shape).filter((name) => !(name in example));
    expect(missing, `.env.example misses: ${missing.join(', ')}`).toEqual([]);
  });

  it('shows each default as the schema has it, and leaves variables without one empty', () => {
    const wrong: string[] = [];
    for (const [name, schema] of Object.entries(shape)) {
      if (!(name in example)) continue;
      const fallback = schema.safeParse(undefined);
      const hasDefault = fallback.success && fallback.data !== undefined;
      const given = example[name] ?? '';
      if (!hasDefault) {
        if (given !== '') wrong.push(`${name} has no default, so its example value should be empty (got ${given})`);
        continue;
      }
      const parsed = schema.safeParse(given);
      if (!parsed.success || JSON.stringify(parsed.data) !== JSON.stringify(fallback.data)) {
        wrong.push(`${name}=${given} but the default is ${JSON.stringify(fallback.data)}`);
      }
    }
    expect(wrong, wrong.join('\n')).toEqual([]);
  });
});
