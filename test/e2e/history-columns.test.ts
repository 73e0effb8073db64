import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followToEnd, generateOk, rawGenerationId } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

// Every field of VideoGeneration: the history page reads only the columns the selected fields use (FIELD_COLUMNS
// in src/schema/video-generation.ts), so a field whose entry forgot a column shows up here as a difference, when
// it is asked for alone and among all the others.
const FIELDS = [
  'id',
  'status',
  'queuePosition',
  'endpointId',
  'falRequestId',
  'backend',
  'imageUrl',
  'endImageUrl',
  'prompt',
  'multiPrompt { prompt duration }',
  'duration',
  'generateAudio',
  'shotType',
  'estimatedCost',
  'logs { sequence message level timestamp }',
  'video { url sourceUrl archiveStatus sha256 contentType fileName fileSize }',
  'error { code message }',
  'createdAt',
  'updatedAt',
  'startedAt',
  'completedAt',
  'progress { fraction etaSeconds estimatedCompletionAt }',
];
const ALL_FIELDS = FIELDS.join(' ');

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
    // Columns a completed generation leaves empty, filled on one row so that a field missing one differs.
    await server.running.database.query(
      `UPDATE "Generation" SET "errorCode" = 'FAL_TEST', "errorMessage" = 'a message', "queuePosition" = 3 WHERE id = $1::uuid`,
      [rawGenerationId(ids[0])],
    );
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

  it('each field asked for alone, directly or through fragments, is the same as read by id', async () => {
    const byId = new Map<string, Record<string, unknown>>();
    for (const id of ids)
      byId.set(id, (await gql(server.url, `query($id: ID!) { videoGeneration(id: $id) { ${ALL_FIELDS} } }`, { id })).data.videoGeneration);
    for (const field of FIELDS) {
      const name = field.split(' ')[0];
      const documents = [
        `{ videoGenerations(first: 10) { edges { node { id ${field} } } } }`,
        // The same selection inside a named fragment on the node, and an inline fragment on the connection.
        `{ videoGenerations(first: 10) { ... on VideoGenerationConnection { edges { node { ...F } } } } } fragment F on VideoGeneration { id ${field} }`,
      ];
      for (const document of documents) {
        const page = await gql(server.url, document);
        expect(page.errors, `${name}: ${document}`).toBeUndefined();
        for (const { node } of page.data.videoGenerations.edges as Array<{ node: Record<string, unknown> & { id: string } }>)
          expect(node[name], `${name} of ${node.id}`).toEqual(byId.get(node.id)![name]);
      }
    }
  });
});
