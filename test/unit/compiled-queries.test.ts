import * as jit from 'graphql-jit';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it, vi } from 'vitest';
import { COMPILE_AFTER_EXECUTIONS, useCompiledQueries } from '../../src/http/compiled-queries.ts';

// useCompiledQueries on a small Yoga: what graphql-js answers and what the compiled form answers must be the same
// bytes, for the error cases the real schema cannot be made to hit on purpose (an unexpected error, which Yoga
// masks; a null in a non-null field), and a document graphql-jit fails to compile stays on graphql-js.

const failCompiling = vi.hoisted(() => ({ marker: '' }));
vi.mock('graphql-jit', async (importOriginal) => {
  const original = await importOriginal<typeof jit>();
  return {
    ...original,
    compileQuery: (...args: Parameters<typeof jit.compileQuery>) => {
      if (failCompiling.marker && JSON.stringify(args[1]).includes(failCompiling.marker)) throw new Error('cannot compile');
      return original.compileQuery(...args);
    },
  };
});

const executions = { count: 0 };
const yoga = createYoga({
  schema: createSchema({
    typeDefs: /* GraphQL */ `
      type Item { id: ID! name: String! }
      type Query { items: [Item!] secret: String leaky: String! answer(n: Int!): Int! }
    `,
    resolvers: {
      Query: {
        items: () => [
          { id: '1', name: 'a' },
          { id: '2', name: null },
        ],
        secret: () => {
          throw new Error('password=hunter2 at db.internal');
        },
        leaky: () => null,
        answer: (_: unknown, { n }: { n: number }, context: { seen?: number }) => {
          executions.count += 1;
          return n * 2 + (context.seen ?? 0);
        },
      },
    },
  }),
  logging: false,
  maskedErrors: true,
  plugins: [useCompiledQueries()],
});

async function send(query: string, variables?: Record<string, unknown>): Promise<string> {
  const response = await yoga.fetch('http://yoga/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return response.text();
}

/** Every answer to `query` (graphql-js' first, then the compiled form's) as the same bytes; returns it parsed. */
async function sameEveryTime(query: string, variables?: Record<string, unknown>) {
  const answers: string[] = [];
  for (let i = 0; i < COMPILE_AFTER_EXECUTIONS + 2; i += 1) answers.push(await send(query, variables));
  for (const answer of answers.slice(1)) expect(answer).toBe(answers[0]);
  return JSON.parse(answers[0]) as { data?: unknown; errors?: Array<{ message: string; path?: unknown[] }> };
}

describe('useCompiledQueries', () => {
  it('masks an unexpected error the same way compiled: no message, no secret', async () => {
    const answer = await sameEveryTime('{ secret answer(n: 1) }');
    expect(answer.errors).toEqual([
      {
        message: 'Unexpected error.',
        locations: [{ line: 1, column: 3 }],
        path: ['secret'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(JSON.stringify(answer)).not.toContain('hunter2');
    expect(answer.data).toEqual({ secret: null, answer: 2 });
  });

  it('bubbles a null in a non-null field to the nearest nullable parent, the same way compiled', async () => {
    const answer = await sameEveryTime('query Q {\n  items { id name }\n  answer(n: 2)\n}');
    expect(answer.data).toEqual({ items: null, answer: 4 });
    expect(answer.errors?.[0].path).toEqual(['items', 1, 'name']);
    const root = await sameEveryTime('{ leaky }');
    expect(root.data).toBeNull();
  });

  it('words a refused variable as graphql-js does', async () => {
    const answer = await sameEveryTime('query($n: Int!) { answer(n: $n) }', { n: 'ten' });
    expect(answer.errors?.[0].message).toBe('Variable "$n" got invalid value "ten"; Int cannot represent non-integer value: "ten"');
  });

  it('keeps a document graphql-jit cannot compile on graphql-js, and answers it all the same', async () => {
    failCompiling.marker = 'uncompilable';
    try {
      const before = executions.count;
      const answer = await sameEveryTime('query uncompilable { answer(n: 5) }');
      expect(answer).toEqual({ data: { answer: 10 } });
      expect(executions.count - before).toBe(COMPILE_AFTER_EXECUTIONS + 2);
    } finally {
      failCompiling.marker = '';
    }
  });
});
