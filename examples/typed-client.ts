/**
 * A typed GraphQL client for reelgraph with urql (@urql/core; React's `urql` hooks take the same documents) and
 * the TypedDocumentNodes that `npm run codegen` generates: variables and results are checked by the compiler.
 * `tsc` compiles this file (tsconfig.json includes examples/), test/examples.test.ts runs it against a real
 * server and checks that the README shows the region below verbatim.
 */
// #region readme
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import { FollowGenerationSubscription, RecentGenerationsQuery } from '../src/client/operations.ts';

export function connect(url: string, apiKey?: string) {
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  // Subscriptions over graphql-ws on the same URL; the API key travels in connectionParams.
  const ws = createWsClient({ url: url.replace(/^http/, 'ws'), connectionParams: headers });
  const client = new Client({
    url,
    fetchOptions: () => ({ headers }),
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (operation) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...operation, query: operation.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  return { client, close: async () => void (await ws.dispose()) };
}

/** The newest finished generations and their video URLs. */
export async function finishedVideos(client: Client, first = 10) {
  const { data, error } = await client.query(RecentGenerationsQuery, { first, filter: { status: ['COMPLETED'] } }).toPromise();
  if (error) throw error;
  // node.status is typed 'PENDING' | 'IN_QUEUE' | ... | 'CANCELLED'; node.video may be null.
  return (data?.videoGenerations.edges ?? []).map(({ node }) => ({ id: node.id, status: node.status, url: node.video?.url ?? null }));
}

/** Follows one generation to its end, calling onEvent with each event; resolves with the final status. */
export function follow(client: Client, id: string, onEvent: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const subscription = client.subscription(FollowGenerationSubscription, { id }).subscribe(({ data, error }) => {
      if (error) return reject(error);
      const event = data?.videoGenerationEvents;
      if (!event) return;
      // Narrowed by the fragments: only a status event has `status`, only a log event has `log`.
      if ('status' in event) onEvent(`#${event.sequence} ${event.status}`);
      if ('log' in event) onEvent(`#${event.sequence} ${event.log.message}`);
      const { status } = event.generation;
      if (status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED') {
        subscription.unsubscribe();
        resolve(status);
      }
    });
  });
}
// #endregion

/** Compile-time proof that the types come from the query: a field it does not select is not there. */
export async function notSelected(client: Client) {
  const { data } = await client.query(RecentGenerationsQuery, { first: 1 }).toPromise();
  const node = data?.videoGenerations.edges[0]?.node;
  // @ts-expect-error: falRequestId is not selected by RecentGenerations, so it is not on the type.
  const notThere: unknown = node?.falRequestId;
  return notThere;
}

if (import.meta.main) {
  // The same variables as the reelgraph command (FAL_VIDEO_SERVER is the deprecated name of REELGRAPH_SERVER).
  const server = process.env.REELGRAPH_SERVER ?? process.env.FAL_VIDEO_SERVER ?? 'http://localhost:4000/graphql';
  const { client, close } = connect(server, process.env.REELGRAPH_API_KEY);
  for (const video of await finishedVideos(client)) console.log(video.id, video.url);
  await close();
}
