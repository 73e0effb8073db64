import { graphql } from './gql/index.ts';

/** Operations shared by the CLI, the dashboard and typed clients (one definition, generated types). */
export const ServerInfoQuery = graphql(`
  query ServerInfo {
    serverInfo { falBackend simulated endpointId version }
  }
`);

/** Newest generations first (a Relay connection), as a typed frontend lists them; see examples/typed-client.ts. */
export const RecentGenerationsQuery = graphql(`
  query RecentGenerations($first: Int!, $filter: VideoGenerationFilter) {
    videoGenerations(first: $first, filter: $filter) {
      edges {
        node { id status prompt createdAt video { url } error { code message } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

/** One generation's events, replayed after `afterSequence` and then live, until its terminal status. */
export const FollowGenerationSubscription = graphql(`
  subscription FollowGeneration($id: ID!, $afterSequence: Int) {
    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {
      sequence
      ... on VideoGenerationStatusEvent { status queuePosition }
      ... on VideoGenerationLogEvent { log { message } }
      generation { status video { url } error { code message } }
    }
  }
`);
