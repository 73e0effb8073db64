import { graphql } from '../../client/gql/index.ts';

/**
 * Every operation the dashboard sends, typed by codegen (npm run codegen) like any codegen frontend's.
 * Error results are selected through the Error interface, so new error types show up without a change here.
 */

export const GenerationRowFields = graphql(`
  fragment DashboardGenerationRow on VideoGeneration {
    id status queuePosition prompt multiPrompt { prompt duration } duration generateAudio backend
    imageUrl endImageUrl shotType
    progress { fraction etaSeconds estimatedCompletionAt }
    createdAt startedAt completedAt updatedAt
    error { code message }
    video { url archiveStatus contentType }
  }
`);

/** Public (answered without a key, as a GET): what the banner and the "API key required" state need. */
export const DashboardServerInfoQuery = graphql(`
  query DashboardServerInfo {
    serverInfo { falBackend simulated version authRequired }
  }
`);

/** One page of the list, newest first; `after` is the previous page's endCursor ("load more"). */
export const DashboardGenerationsQuery = graphql(`
  query DashboardGenerations($first: Int!, $after: String, $filter: VideoGenerationFilter) {
    videoGenerations(first: $first, after: $after, filter: $filter) {
      edges { node { ...DashboardGenerationRow } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const DashboardGenerationQuery = graphql(`
  query DashboardGeneration($id: ID!) {
    videoGeneration(id: $id) { ...DashboardGenerationRow imageUrl endImageUrl logs { sequence message level timestamp } }
  }
`);

/** The same document serves URL and file inputs: an uploaded File rides in $input (GraphQL multipart request spec). */
export const DashboardGenerateMutation = graphql(`
  mutation DashboardGenerate($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      __typename
      ... on GenerateVideoSuccess { generation { ...DashboardGenerationRow } }
      ... on InputValidationError { fieldErrors { path message } }
      ... on Error { message }
    }
  }
`);

export const DashboardCancelMutation = graphql(`
  mutation DashboardCancel($id: ID!) {
    cancelVideoGeneration(id: $id) {
      __typename
      ... on CancelVideoGenerationSuccess { cancelRequested generation { ...DashboardGenerationRow } }
      ... on Error { message }
    }
  }
`);

export const DashboardUpdatesSubscription = graphql(`
  subscription DashboardUpdates {
    videoGenerationUpdated { ...DashboardGenerationRow }
  }
`);

export const DashboardEventsSubscription = graphql(`
  subscription DashboardEvents($id: ID!, $afterSequence: Int) {
    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {
      sequence
      ... on VideoGenerationStatusEvent { status queuePosition }
      ... on VideoGenerationLogEvent { log { sequence message level timestamp } }
      generation { ...DashboardGenerationRow }
    }
  }
`);
