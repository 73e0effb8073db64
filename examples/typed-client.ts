/**
 * A typed GraphQL client for reelgraph with urql (@urql/core; the same client React's `urql` bindings wrap) and
 * the TypedDocumentNodes that `npm run codegen` generates: variables and results are checked by the compiler.
 * `tsc` compiles this file (tsconfig.json includes examples/), and test/examples.test.ts runs it against a server.
 */
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { FollowGenerationSubscription, RecentGenerationsQuery } from '../src/client/operations.ts';

export function createReelgraphClient(url: string, apiKey?: string): { client: Client; close: () => Promise<void> } {
  const authorization = apiKey ? `Bearer ${apiKey}` : undefined;
  // Subscriptions over graphql-ws on the same URL; the API key travels in connectionParams.
  const ws = createWsClient({ url: url.replace(/^http/, 'ws'), connectionParams: authorization ? { authorization } : {} });
  const client = new Client({
    url,
    preferGetMethod: false,
    fetchOptions: (): RequestInit => ({ headers: authorization ? { authorization } : {} }),
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (operation) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...operation, query: operation.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  return {
    client,
    close: async () => {
      await ws.dispose();
    },
  };
}

/** The newest finished generations and their video URLs. */
export async function finishedVideos(client: Client, first = 10) {
  const { data, error } = await client.query(RecentGenerationsQuery, { first, filter: { status: ['COMPLETED'] } }).toPromise();
  if (error) throw error;
  // `data` is typed from the query: node.status is 'PENDING' | 'IN_QUEUE' | ... and node.video may be null.
  // @ts-expect-error: falRequestId was not selected by the query, so it is not on the type either.
  void data?.videoGenerations.edges[0]?.node.falRequestId;
  return (data?.videoGenerations.edges ?? []).map(({ node }) => ({ id: node.id, status: node.status, url: node.video?.url ?? null }));
}

/** Follows one generation to its end, calling onEvent with each typed event. */
export function follow(client: Client, id: string, onEvent: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const { unsubscribe } = client.subscription(FollowGenerationSubscription, { id }).subscribe((result) => {
      if (result.error) return reject(result.error);
      const event = result.data?.videoGenerationEvents;
      if (!event) return;
      // Narrowed by the fragments: only a status event has `status`, only a log event has `log`.
      if ('status' in event) onEvent(`#${event.sequence} ${event.status}`);
      if ('log' in event) onEvent(`#${event.sequence} ${event.log.message}`);
      if (event.generation.status === 'COMPLETED' || event.generation.status === 'FAILED' || event.generation.status === 'CANCELLED') {
        unsubscribe();
        resolve(event.generation.status);
      }
    });
  });
}

if (import.meta.main) {
  const { client, close } = createReelgraphClient(process.env.FAL_VIDEO_SERVER ?? 'http://localhost:4000/graphql', process.env.REELGRAPH_API_KEY);
  for (const video of await finishedVideos(client)) console.log(video.id, video.url);
  await close();
}
