import { parse, print } from 'graphql';
import * as jit from 'graphql-jit';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { COMPILE_AFTER_EXECUTIONS } from '../../src/http/compiled-queries.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { followToEnd, generateOk, rawGenerationId } from '../helpers/generation.ts';
import { bearer, gql } from '../helpers/graphql.ts';
import { createTenants, GENERATE_AS, type Tenants } from '../helpers/tenants.ts';

// Repeated queries run compiled by graphql-jit (src/http/compiled-queries.ts). The answer must not depend on
// which executor gave it: each document below is sent several times, its first answer comes from graphql-js
// and the later ones from the compiled form, and every answer must equal the first, errors (their messages,
// paths and extensions, masking included) and all. Compiling is watched through graphql-jit's compileQuery.

const compileQuery = vi.hoisted(() => ({ calls: [] as Array<{ document: string; compiled: boolean }> }));
vi.mock('graphql-jit', async (importOriginal) => {
  const original = await importOriginal<typeof jit>();
  return {
    ...original,
    compileQuery: (...args: Parameters<typeof jit.compileQuery>) => {
      const result = original.compileQuery(...args);
      compileQuery.calls.push({
        document: print(args[1]),
        compiled: original.isCompiledQuery(result as Parameters<typeof jit.isCompiledQuery>[0]),
      });
      return result;
    },
  };
});

const NODE_FIELDS = `
  id status queuePosition endpointId falRequestId backend imageUrl endImageUrl prompt multiPrompt { prompt duration }
  duration generateAudio shotType estimatedCost logs { sequence message level timestamp }
  video { url sourceUrl archiveStatus sha256 contentType fileName fileSize } error { code message }
  createdAt updatedAt startedAt completedAt progress { fraction etaSeconds estimatedCompletionAt }`;

const HISTORY = `query History($first: Int, $after: String) {
  videoGenerations(first: $first, after: $after) {
    edges { cursor node { ${NODE_FIELDS} } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

const SENDS = COMPILE_AFTER_EXECUTIONS + 2;

describe('compiled queries', () => {
  let server: TestServer;
  let keys: Tenants;
  const ids: string[] = [];

  let sent = 0;
  /**
   * Sends `query` SENDS times; every answer must equal the first (graphql-js'), which it returns, and the
   * document must have been compiled once in between. A comment makes the text new to the server each call,
   * so its first execution is graphql-js' even if the same document ran compiled before.
   */
  async function sameEveryTime(query: string, variables?: Record<string, unknown>, key = keys.acme) {
    const text = `${query}\n# ${(sent += 1)}`;
    const compiledBefore = compiledTimes(query);
    const answers = [];
    for (let i = 0; i < SENDS; i += 1) answers.push(await gql(server.url, text, variables, bearer(key)));
    for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0]);
    expect(compiledTimes(query) - compiledBefore).toBe(1);
    return answers[0];
  }
  const compiledTimes = (query: string) => compileQuery.calls.filter((c) => c.document === print(parse(query)) && c.compiled).length;

  beforeAll(async () => {
    server = await startTestServer({ behaviour: { logCount: 2 } });
    for (const input of [{ prompt: 'one shot', endImageUrl: 'https://example.com/b.png' }, { prompt: 'another' }])
      ids.push((await generateOk(server, { imageUrl: 'https://example.com/a.png', ...input })).id);
    await Promise.all(ids.map((id) => followToEnd(server, id)));
    for (const id of ids) await server.running.archiver.settled(rawGenerationId(id));
    // Made in open mode (no key yet), as tenant default: acme's from here on.
    await server.running.database.query(`UPDATE "Generation" SET "tenantId" = 'acme'`);
    await server.running.database.query(
      `UPDATE "Generation" SET "errorCode" = 'FAL_TEST', "errorMessage" = 'a message' WHERE id = $1::uuid`,
      [rawGenerationId(ids[0])],
    );
    keys = await createTenants(server);
  });
  afterAll(() => server?.dispose());
  beforeEach(() => {
    compileQuery.calls.length = 0;
  });

  it('a history page: the same page, cursors and rows, compiled once on its second execution', async () => {
    const first = await sameEveryTime(HISTORY, { first: 10 });
    expect(first.errors).toBeUndefined();
    const nodes = first.data.videoGenerations.edges.map((edge: { node: Record<string, unknown> }) => edge.node);
    expect(nodes.map((node: { id: string }) => node.id).sort()).toEqual([...ids].sort());
    for (const node of nodes) expect(node).toMatchObject({ status: 'COMPLETED', logs: [{}, {}], video: { archiveStatus: 'ARCHIVED' } });
    expect(nodes.find((node: { id: string }) => node.id === ids[0]).error).toEqual({ code: 'FAL_TEST', message: 'a message' });
    // The next page, by the compiled form's own endCursor: the same rows as graphql-js' cursor gives.
    const next = await sameEveryTime(HISTORY, {
      first: 1,
      after: (await gql(server.url, HISTORY, { first: 1 }, bearer(keys.acme))).data.videoGenerations.pageInfo.endCursor,
    });
    expect(next.data.videoGenerations.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([nodes[1].id]);
    // Tenant isolation holds compiled: globex sees none of acme's rows, every time.
    const foreign = await sameEveryTime(HISTORY, { first: 10 }, keys.globex);
    expect(foreign.data.videoGenerations.edges).toEqual([]);
    expect(compiledTimes(HISTORY)).toBe(3);
    expect(compileQuery.calls).toHaveLength(3);
  });

  it('errors: a bad cursor, a bad filter, a bad variable, a forbidden read, the same from either executor', async () => {
    const badCursor = await sameEveryTime(HISTORY, { first: 1, after: 'not-a-cursor' });
    expect(badCursor.errors?.[0].message).toMatch(/Invalid cursor/);
    const filter = `query($s: String) { videoGenerations(first: 1, filter: { search: $s }) { edges { node { id } } } }`;
    const badFilter = await sameEveryTime(filter, { s: ' ' });
    expect(badFilter.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    const badVariable = await sameEveryTime(HISTORY, { first: 'ten' });
    expect(badVariable.errors?.[0].message).toMatch(/\$first/);
    const forbidden = await sameEveryTime(`{ usage(tenantId: "globex") { tenantId } }`);
    expect(forbidden.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('interfaces, fragments and directives: node(id), the same answer compiled', async () => {
    const query = `query($id: ID!, $withPrompt: Boolean!) {
      node(id: $id) { __typename id ...on VideoGeneration { ...Row prompt @include(if: $withPrompt) } }
      serverInfo { __typename }
    }
    fragment Row on VideoGeneration { status video { url } }`;
    for (const withPrompt of [true, false]) {
      const answer = await sameEveryTime(query, { id: ids[0], withPrompt });
      expect(answer.errors).toBeUndefined();
      expect(answer.data.node).toMatchObject({ __typename: 'VideoGeneration', id: ids[0], status: 'COMPLETED' });
      expect('prompt' in answer.data.node).toBe(withPrompt);
    }
  });

  it('never compiles a document sent once, nor a mutation however often', async () => {
    for (let i = 0; i < 3; i += 1) {
      const once = await gql(server.url, `{ videoGenerations(first: ${i + 1}) { edges { node { id } } } }`, {}, bearer(keys.acme));
      expect(once.errors).toBeUndefined();
    }
    for (let i = 0; i < SENDS; i += 1) {
      const created = await gql(
        server.url,
        GENERATE_AS,
        { input: { imageUrl: 'https://example.com/a.png', prompt: `p${i}` } },
        bearer(keys.acme),
      );
      expect(created.data.generateVideo.__typename).toBe('GenerateVideoSuccess');
    }
    expect(compileQuery.calls).toEqual([]);
  });
});
