import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

const PAGE = /* GraphQL */ `
  query Page($first: Int, $after: String, $last: Int, $before: String, $filter: VideoGenerationFilter) {
    videoGenerations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      edges { cursor node { id prompt status } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`;

describe('history: Relay pagination, node lookup, filters', () => {
  let server: TestServer;
  const ids: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ behaviour: { logCount: 1 } });
    for (let i = 0; i < 5; i += 1) {
      const result = await gql(server.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: `clip ${i}` } });
      ids.push(result.data.generateVideo.generation.id);
    }
    const client = wsClient(server.url);
    try {
      await Promise.all(ids.map((id) => collect(client, EVENTS_SUBSCRIPTION, { id }).done));
    } finally {
      await client.dispose();
    }
  });
  afterAll(() => server?.dispose());

  it('pages forwards and backwards, newest first', async () => {
    const first = await gql(server.url, PAGE, { first: 2 });
    expect(first.errors).toBeUndefined();
    const page1 = first.data.videoGenerations;
    expect(page1.edges.map((e: { node: { prompt: string } }) => e.node.prompt)).toEqual(['clip 4', 'clip 3']);
    expect(page1.pageInfo.hasNextPage).toBe(true);

    const page2 = (await gql(server.url, PAGE, { first: 2, after: page1.pageInfo.endCursor })).data.videoGenerations;
    expect(page2.edges.map((e: { node: { prompt: string } }) => e.node.prompt)).toEqual(['clip 2', 'clip 1']);
    const page3 = (await gql(server.url, PAGE, { first: 2, after: page2.pageInfo.endCursor })).data.videoGenerations;
    expect(page3.edges.map((e: { node: { prompt: string } }) => e.node.prompt)).toEqual(['clip 0']);
    expect(page3.pageInfo.hasNextPage).toBe(false);

    const back = (await gql(server.url, PAGE, { last: 2, before: page3.pageInfo.startCursor })).data.videoGenerations;
    expect(back.edges.map((e: { node: { prompt: string } }) => e.node.prompt)).toEqual(['clip 2', 'clip 1']);
    expect(back.pageInfo.hasPreviousPage).toBe(true);
  });

  it('filters by status', async () => {
    const done = (await gql(server.url, PAGE, { first: 10, filter: { status: ['COMPLETED'] } })).data.videoGenerations;
    expect(done.edges).toHaveLength(5);
    const failed = (await gql(server.url, PAGE, { first: 10, filter: { status: ['FAILED', 'CANCELLED'] } })).data.videoGenerations;
    expect(failed.edges).toHaveLength(0);
  });

  it('finds a generation by node(id) and by videoGeneration(id), and nothing for unknown ids', async () => {
    const node = await gql(server.url, `query($id: ID!) { node(id: $id) { __typename id ... on VideoGeneration { prompt } } }`, {
      id: ids[0],
    });
    expect(node.errors).toBeUndefined();
    expect(node.data.node).toEqual({ __typename: 'VideoGeneration', id: ids[0], prompt: 'clip 0' });
    const unknown = await gql(server.url, `query($id: ID!) { videoGeneration(id: $id) { id } }`, { id: 'bogus' });
    expect(unknown.errors).toBeUndefined();
    expect(unknown.data.videoGeneration).toBeNull();
  });
});

describe('videoGenerationUpdated', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ behaviour: { logCount: 2, queuePosition: 1 } });
  });
  afterAll(() => server?.dispose());

  it('emits the generation on every change until it completes', async () => {
    const client = wsClient(server.url);
    try {
      const updates = collect(client, 'subscription { videoGenerationUpdated { id status queuePosition } }');
      // graphql-ws confirms nothing on subscribe: a first generation proves the subscription is live.
      const warmup = await gql(server.url, GENERATE, { input: { imageUrl: 'https://example.com/w.png', prompt: 'warm up' } });
      const warmupId = warmup.data.generateVideo.generation.id;
      await updates.waitUntil((r) => r.some((p) => p.data.videoGenerationUpdated.id === warmupId));
      const created = await gql(server.url, GENERATE, { input: { imageUrl: 'https://example.com/a.png', prompt: 'dashboard' } });
      const id = created.data.generateVideo.generation.id;
      await updates.waitUntil((r) =>
        r.some((p) => p.data.videoGenerationUpdated.id === id && p.data.videoGenerationUpdated.status === 'COMPLETED'),
      );
      updates.cancel();
      const mine = updates.received.map((p) => p.data.videoGenerationUpdated).filter((g: { id: string }) => g.id === id);
      const statuses = mine.map((g: { status: string }) => g.status);
      // The row is re-read when the update is delivered, so the first one may already show IN_QUEUE.
      expect(['PENDING', 'IN_QUEUE']).toContain(statuses[0]);
      expect(statuses.at(-1)).toBe('COMPLETED');
      // Each update shows the row as it is when delivered (a dashboard wants the latest state, so quick
      // successive changes may show as one): status never goes back.
      const order = ['PENDING', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED'];
      const ranks = statuses.map((s: string) => order.indexOf(s));
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    } finally {
      await client.dispose();
    }
  });
});
