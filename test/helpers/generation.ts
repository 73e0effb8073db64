import { expect } from 'vitest';
import type { TestServer } from './app.ts';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient, type GraphQLResponse } from './graphql.ts';

export const IMAGE = 'https://example.com/start.png';

export const GENERATION_FIELDS = /* GraphQL */ `
  id status falRequestId queuePosition
  error { code message }
  logs { sequence message }
  video { url sourceUrl archiveStatus sha256 contentType fileSize }
`;

/** generateVideo that must succeed (on a test server, or anything with a GraphQL URL); returns the generation. */
export async function generateOk(server: Pick<TestServer, 'url'>, input: Record<string, unknown> = {}) {
  const result = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'a cat walks', ...input } });
  expect(result.errors).toBeUndefined();
  expect(result.data.generateVideo.__typename, JSON.stringify(result.data.generateVideo)).toBe('GenerateVideoSuccess');
  return result.data.generateVideo.generation as {
    id: string;
    falRequestId: string | null;
    status: string;
    backend: string;
    queuePosition: number | null;
  };
}

/** One videoGenerationEvents payload as EVENTS_SUBSCRIPTION selects it. */
export interface GenerationEventPayload {
  __typename: string;
  sequence: number;
  generation: { id: string; status: string };
  status?: string;
  queuePosition?: number | null;
  log?: { sequence: number; message: string; level: string; timestamp: string };
}

/** The events in a subscription's payloads (EVENTS_SUBSCRIPTION, over graphql-ws or SSE); none may carry errors. */
export function eventsOf(payloads: Array<GraphQLResponse<{ videoGenerationEvents: GenerationEventPayload }>>): GenerationEventPayload[] {
  return payloads.map((p) => {
    expect(p.errors).toBeUndefined();
    return p.data!.videoGenerationEvents;
  });
}

/** The database id inside a generation's global (Relay) id. */
export const rawGenerationId = (id: string) => Buffer.from(id, 'base64').toString('utf8').split(':')[1];

export async function readGeneration(server: Pick<TestServer, 'url'>, id: string) {
  const result = await gql(server.url, `query($id: ID!) { videoGeneration(id: $id) { ${GENERATION_FIELDS} } }`, { id });
  expect(result.errors).toBeUndefined();
  return result.data.videoGeneration;
}

/**
 * Follows a generation over graphql-ws until its terminal event, checks the event log has no gaps, no repeats
 * and exactly one terminal status, and returns the events and the final row.
 */
export async function followToEnd(server: Pick<TestServer, 'url'>, id: string) {
  const client = wsClient(server.url);
  try {
    const payloads = await collect(client, EVENTS_SUBSCRIPTION, { id }).done;
    const events = payloads.map((p) => {
      expect(p.errors).toBeUndefined();
      return p.data.videoGenerationEvents;
    });
    expect(events.map((e: { sequence: number }) => e.sequence)).toEqual(events.map((_: unknown, i: number) => i + 1));
    const terminal = events.filter((e: { status?: string }) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(e.status ?? ''));
    expect(terminal).toHaveLength(1);
    expect(events.at(-1)).toBe(terminal[0]);
    return { events, generation: await readGeneration(server, id) };
  } finally {
    await client.dispose();
  }
}

/** The messages of every log line fal produced for this request, in order. */
export function simulatorLogs(server: TestServer, falRequestId: string): string[] {
  return server.sim.requests.get(falRequestId)!.logs.map((l) => l.message);
}
