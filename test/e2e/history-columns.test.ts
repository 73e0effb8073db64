import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followToEnd, generateOk, rawGenerationId } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

// Every field of VideoGeneration: the history page reads only the columns its fields use (LISTED_COLUMNS in
// src/schema/video-generation.ts), so a field that reads a column the list forgot shows up here as a difference.
const ALL_FIELDS = /* GraphQL */ `
  id status queuePosition endpointId falRequestId backend imageUrl endImageUrl prompt
  multiPrompt { prompt duration } duration generateAudio shotType estimatedCost
  logs { sequence message level timestamp } video { url sourceUrl archiveStatus sha256 contentType fileName fileSize }
  error { code message } createdAt updatedAt startedAt completedAt
`;

describe('history page columns', () => {
  let server: TestServer;
  const ids: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ behaviour: { logCount: 2 } });
    const inputs = [
      { imageUrl: 'https://example.com/a.png', prompt: 'one shot', endImageUrl: 'https://example.com/b.png' },
      {
        imageUrl: 'https://example.com/a.png',
        prompt: undefined,
        multiPrompt: [
          { prompt: 'first', duration: 3 },
          { prompt: 'second', duration: 2 },
        ],
      },
    ];
    for (const input of inputs) ids.push((await generateOk(server, input)).id);
    await Promise.all(ids.map((id) => followToEnd(server, id)));
    // Archiving runs after completion: let it finish so both reads see the same file state.
    for (const id of ids) await server.running.archiver.settled(rawGenerationId(id));
  });
  afterAll(() => server?.dispose());

  it('a node on the history page equals the same generation read by id, field for field', async () => {
    const page = await gql(server.url, `{ videoGenerations(first: 10) { edges { node { ${ALL_FIELDS} } } } }`);
    expect(page.errors).toBeUndefined();
    const nodes = page.data.videoGenerations.edges.map((e: { node: { id: string } }) => e.node);
    expect(nodes.map((n: { id: string }) => n.id).sort()).toEqual([...ids].sort());
    for (const node of nodes) {
      const one = await gql(server.url, `query($id: ID!) { videoGeneration(id: $id) { ${ALL_FIELDS} } }`, { id: node.id });
      expect(one.errors).toBeUndefined();
      expect(node).toEqual(one.data.videoGeneration);
      expect(node.status).toBe('COMPLETED');
      expect(node.logs).toHaveLength(2);
      expect(node.video).not.toBeNull();
    }
    expect(nodes.some((n: { multiPrompt: unknown[] | null }) => n.multiPrompt?.length === 2)).toBe(true);
    expect(nodes.some((n: { endImageUrl: string | null }) => n.endImageUrl !== null)).toBe(true);
  });
});
