import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/app.ts';
import { startTestServer } from '../helpers/app.ts';
import { followToEnd, generateOk } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';

// History search and filters (issue 16, section 3) through the real API, on PGlite or (TEST_DATABASE=postgres)
// PostgreSQL: the tsvector column, its GIN index and websearch_to_tsquery behave the same on both.

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $last: Int, $before: String, $filter: VideoGenerationFilter) {
    videoGenerations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      edges { cursor node { id prompt status createdAt multiPrompt { prompt } } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

interface Row {
  id: string;
  prompt: string | null;
  status: string;
  createdAt: string;
  multiPrompt: Array<{ prompt: string }> | null;
}

const PROMPTS = [
  'An orange fox runs through snow',
  'A grey cat sleeps on a sofa',
  'The orange FOX jumps over a fence',
  'A red cat chases a mouse',
  'Waves crash on the rocks',
  'an orange fox, at night',
  'A dog and a fox play',
  'Orange fox cubs in spring',
  'A black cat on a wall',
];

describe('history search and filters', () => {
  let server: TestServer;
  let all: Row[];

  async function page(variables: Record<string, unknown>) {
    const result = await gql(server.url, PAGE, variables);
    expect(result.errors).toBeUndefined();
    return result.data.videoGenerations as {
      edges: Array<{ cursor: string; node: Row }>;
      pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    };
  }
  const ids = (edges: Array<{ node: Row }>) => edges.map((e) => e.node.id);

  beforeAll(async () => {
    server = await startTestServer({ behaviour: { logCount: 1 } });
    const created = [];
    for (const prompt of PROMPTS) created.push(await generateOk(server, { prompt }));
    created.push(
      await generateOk(server, {
        prompt: null,
        multiPrompt: [{ prompt: 'A dragon circles the tower', duration: 3 }, { prompt: 'It lands on the orange roof' }],
      }),
    );
    for (const g of created) await followToEnd(server, g.id);
    all = (await page({ first: 100 })).edges.map((e) => e.node);
    expect(all).toHaveLength(PROMPTS.length + 1);
  });
  afterAll(() => server?.dispose());

  const matching = (test: (text: string) => boolean) =>
    all.filter((r) => test([r.prompt ?? '', ...(r.multiPrompt ?? []).map((s) => s.prompt)].join(' ').toLowerCase())).map((r) => r.id);

  it('finds words in the prompt and in the shot prompts, in any case, newest first', async () => {
    const fox = await page({ first: 50, filter: { search: 'Fox' } });
    expect(ids(fox.edges)).toEqual(matching((t) => /\bfox\b/.test(t)));
    expect(fox.edges).toHaveLength(5);
    const dragon = await page({ first: 50, filter: { search: 'dragon' } });
    expect(dragon.edges.map((e) => e.node.multiPrompt?.[0].prompt)).toEqual(['A dragon circles the tower']);
    // Across shots: one word from each.
    expect(ids((await page({ first: 50, filter: { search: 'tower roof' } })).edges)).toEqual(ids(dragon.edges));
    expect((await page({ first: 50, filter: { search: 'unicorn' } })).edges).toEqual([]);
  });

  it('understands web search syntax: all words, "a phrase", or, -word', async () => {
    expect(ids((await page({ first: 50, filter: { search: 'orange fox' } })).edges)).toEqual(
      matching((t) => t.includes('orange') && /\bfox\b/.test(t)),
    );
    expect(ids((await page({ first: 50, filter: { search: '"red cat"' } })).edges)).toEqual(matching((t) => t.includes('red cat')));
    expect(ids((await page({ first: 50, filter: { search: 'cat or dog' } })).edges)).toEqual(matching((t) => /\b(cat|dog)\b/.test(t)));
    expect(ids((await page({ first: 50, filter: { search: 'fox -orange' } })).edges)).toEqual(
      matching((t) => /\bfox\b/.test(t) && !t.includes('orange')),
    );
    // Punctuation only: no words to look for, so nothing matches (rather than everything).
    expect((await page({ first: 50, filter: { search: '!!!' } })).edges).toEqual([]);
  });

  it('pages through a search with first/after and last/before: exactly the matching rows, in order, once each', async () => {
    const expected = matching((t) => t.includes('orange'));
    expect(expected.length).toBe(5);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const p = await page({ first: 2, after, filter: { search: 'orange' } });
      seen.push(...ids(p.edges));
      after = p.pageInfo.hasNextPage ? p.pageInfo.endCursor : null;
      pages += 1;
    } while (after);
    expect(seen).toEqual(expected);
    expect(pages).toBe(3);

    // Backwards from the end, two at a time.
    const back: string[] = [];
    let last = await page({ last: 2, filter: { search: 'orange' } });
    for (;;) {
      back.unshift(...ids(last.edges));
      if (!last.pageInfo.hasPreviousPage) break;
      last = await page({ last: 2, before: last.pageInfo.startCursor, filter: { search: 'orange' } });
    }
    expect(back).toEqual(expected);

    // A cursor from the unfiltered list, of a row the search does not match, still means "after this row".
    const pivot = all.findIndex((r) => r.id === expected[1]) + 2;
    expect(expected).not.toContain(all[pivot - 1].id);
    const cursor = (await page({ first: pivot })).pageInfo.endCursor;
    expect(ids((await page({ first: 10, after: cursor, filter: { search: 'orange' } })).edges)).toEqual(expected.slice(2));
  });

  it('combines search, status and the creation window with each other and with paging', async () => {
    // createdAfter is inclusive, createdBefore exclusive: the window [third row, first row) in time.
    const newest = new Date(all[0].createdAt);
    const from = new Date(all[all.length - 3].createdAt);
    const inWindow = (r: Row) => new Date(r.createdAt) >= from && new Date(r.createdAt) < newest;
    const window = await page({ first: 50, filter: { createdAfter: from.toISOString(), createdBefore: newest.toISOString() } });
    expect(ids(window.edges)).toEqual(all.filter(inWindow).map((r) => r.id));

    const cats = matching((t) => /\bcat\b/.test(t));
    const filter = { search: 'cat', status: ['COMPLETED'], createdAfter: new Date(all.at(-1)!.createdAt).toISOString() };
    const first = await page({ first: 1, filter });
    const second = await page({ first: 5, after: first.pageInfo.endCursor, filter });
    expect([...ids(first.edges), ...ids(second.edges)]).toEqual(cats);
    expect((await page({ first: 50, filter: { ...filter, status: ['FAILED'] } })).edges).toEqual([]);
    const later = new Date(Date.now() + 60_000).toISOString();
    expect((await page({ first: 50, filter: { search: 'cat', createdAfter: later } })).edges).toEqual([]);
  });

  it('refuses a bad filter with a typed error that names the field', async () => {
    const refused = async (filter: Record<string, unknown>) => {
      const result = await gql(server.url, PAGE, { first: 5, filter });
      expect(result.data?.videoGenerations ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      return result.errors![0].extensions!.fieldErrors as Array<{ path: string[]; message: string }>;
    };
    expect(await refused({ search: '   ' })).toEqual([
      { path: ['filter', 'search'], message: expect.stringContaining('must not be empty') },
    ]);
    expect(await refused({ search: 'x'.repeat(201) })).toEqual([{ path: ['filter', 'search'], message: 'must be at most 200 characters' }]);
    const at = new Date().toISOString();
    expect(await refused({ createdAfter: at, createdBefore: at })).toEqual([
      { path: ['filter', 'createdAfter'], message: 'must be earlier than createdBefore' },
    ]);
    const bad = await gql(server.url, PAGE, { first: 5, filter: { createdAfter: 'yesterday' } });
    expect(bad.errors?.[0].message).toMatch(/createdAfter/);
  });
});
