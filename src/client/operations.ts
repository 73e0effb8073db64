import { graphql } from './gql/index.ts';

/** Operations shared by the CLI, the dashboard and typed clients (one definition, generated types). */
export const ServerInfoQuery = graphql(`
  query ServerInfo {
    serverInfo { falBackend simulated endpointId version }
  }
`);
