/* eslint-disable */
import * as types from './graphql.ts';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  mutation CliGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess {\n        generation { id status backend queuePosition }\n      }\n      ... on InputValidationError {\n        fieldErrors { path message }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": typeof types.CliGenerateDocument,
    "\n  mutation CliCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess {\n        cancelRequested\n        generation { id status }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": typeof types.CliCancelDocument,
    "\n  fragment CliGeneration on VideoGeneration {\n    id\n    status\n    queuePosition\n    prompt\n    duration\n    generateAudio\n    backend\n    createdAt\n    startedAt\n    completedAt\n    imageUrl\n    endImageUrl\n    falRequestId\n    progress { fraction etaSeconds estimatedCompletionAt }\n    error { code message }\n    video { url fileSize contentType archiveStatus }\n  }\n": typeof types.CliGenerationFragmentDoc,
    "\n  query CliShow($id: ID!) {\n    videoGeneration(id: $id) {\n      ...CliGeneration\n    }\n  }\n": typeof types.CliShowDocument,
    "\n  query CliList($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges {\n        node {\n          id\n          status\n          prompt\n          duration\n          createdAt\n          progress { fraction etaSeconds }\n          error { code }\n          video { url }\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.CliListDocument,
    "\n  subscription CliEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      __typename\n      sequence\n      ... on VideoGenerationStatusEvent {\n        status\n        queuePosition\n      }\n      ... on VideoGenerationLogEvent {\n        log { message level timestamp }\n      }\n      generation {\n        id\n        status\n        progress { fraction etaSeconds estimatedCompletionAt }\n        error { code message }\n        video { url fileSize }\n      }\n    }\n  }\n": typeof types.CliEventsDocument,
    "\n  query ServerInfo {\n    serverInfo { falBackend simulated endpointId version }\n  }\n": typeof types.ServerInfoDocument,
    "\n  query RecentGenerations($first: Int!, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, filter: $filter) {\n      edges {\n        node { id status prompt createdAt video { url } error { code message } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.RecentGenerationsDocument,
    "\n  subscription FollowGeneration($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { message } }\n      generation { status video { url } error { code message } }\n    }\n  }\n": typeof types.FollowGenerationDocument,
    "\n  fragment DashboardGenerationRow on VideoGeneration {\n    id status queuePosition prompt multiPrompt { prompt duration } duration generateAudio backend\n    imageUrl endImageUrl shotType\n    progress { fraction etaSeconds estimatedCompletionAt }\n    createdAt startedAt completedAt updatedAt\n    error { code message }\n    video { url archiveStatus contentType }\n  }\n": typeof types.DashboardGenerationRowFragmentDoc,
    "\n  query DashboardServerInfo {\n    serverInfo { falBackend simulated version authRequired }\n  }\n": typeof types.DashboardServerInfoDocument,
    "\n  query DashboardGenerations($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges { node { ...DashboardGenerationRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.DashboardGenerationsDocument,
    "\n  query DashboardGeneration($id: ID!) {\n    videoGeneration(id: $id) { ...DashboardGenerationRow imageUrl endImageUrl logs { sequence message level timestamp } }\n  }\n": typeof types.DashboardGenerationDocument,
    "\n  mutation DashboardGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { generation { ...DashboardGenerationRow } }\n      ... on InputValidationError { fieldErrors { path message } }\n      ... on Error { message }\n    }\n  }\n": typeof types.DashboardGenerateDocument,
    "\n  mutation DashboardCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess { cancelRequested generation { ...DashboardGenerationRow } }\n      ... on Error { message }\n    }\n  }\n": typeof types.DashboardCancelDocument,
    "\n  subscription DashboardUpdates {\n    videoGenerationUpdated { ...DashboardGenerationRow }\n  }\n": typeof types.DashboardUpdatesDocument,
    "\n  subscription DashboardEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { sequence message level timestamp } }\n      generation { ...DashboardGenerationRow }\n    }\n  }\n": typeof types.DashboardEventsDocument,
};
const documents: Documents = {
    "\n  mutation CliGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess {\n        generation { id status backend queuePosition }\n      }\n      ... on InputValidationError {\n        fieldErrors { path message }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": types.CliGenerateDocument,
    "\n  mutation CliCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess {\n        cancelRequested\n        generation { id status }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n": types.CliCancelDocument,
    "\n  fragment CliGeneration on VideoGeneration {\n    id\n    status\n    queuePosition\n    prompt\n    duration\n    generateAudio\n    backend\n    createdAt\n    startedAt\n    completedAt\n    imageUrl\n    endImageUrl\n    falRequestId\n    progress { fraction etaSeconds estimatedCompletionAt }\n    error { code message }\n    video { url fileSize contentType archiveStatus }\n  }\n": types.CliGenerationFragmentDoc,
    "\n  query CliShow($id: ID!) {\n    videoGeneration(id: $id) {\n      ...CliGeneration\n    }\n  }\n": types.CliShowDocument,
    "\n  query CliList($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges {\n        node {\n          id\n          status\n          prompt\n          duration\n          createdAt\n          progress { fraction etaSeconds }\n          error { code }\n          video { url }\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.CliListDocument,
    "\n  subscription CliEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      __typename\n      sequence\n      ... on VideoGenerationStatusEvent {\n        status\n        queuePosition\n      }\n      ... on VideoGenerationLogEvent {\n        log { message level timestamp }\n      }\n      generation {\n        id\n        status\n        progress { fraction etaSeconds estimatedCompletionAt }\n        error { code message }\n        video { url fileSize }\n      }\n    }\n  }\n": types.CliEventsDocument,
    "\n  query ServerInfo {\n    serverInfo { falBackend simulated endpointId version }\n  }\n": types.ServerInfoDocument,
    "\n  query RecentGenerations($first: Int!, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, filter: $filter) {\n      edges {\n        node { id status prompt createdAt video { url } error { code message } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.RecentGenerationsDocument,
    "\n  subscription FollowGeneration($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { message } }\n      generation { status video { url } error { code message } }\n    }\n  }\n": types.FollowGenerationDocument,
    "\n  fragment DashboardGenerationRow on VideoGeneration {\n    id status queuePosition prompt multiPrompt { prompt duration } duration generateAudio backend\n    imageUrl endImageUrl shotType\n    progress { fraction etaSeconds estimatedCompletionAt }\n    createdAt startedAt completedAt updatedAt\n    error { code message }\n    video { url archiveStatus contentType }\n  }\n": types.DashboardGenerationRowFragmentDoc,
    "\n  query DashboardServerInfo {\n    serverInfo { falBackend simulated version authRequired }\n  }\n": types.DashboardServerInfoDocument,
    "\n  query DashboardGenerations($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges { node { ...DashboardGenerationRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.DashboardGenerationsDocument,
    "\n  query DashboardGeneration($id: ID!) {\n    videoGeneration(id: $id) { ...DashboardGenerationRow imageUrl endImageUrl logs { sequence message level timestamp } }\n  }\n": types.DashboardGenerationDocument,
    "\n  mutation DashboardGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { generation { ...DashboardGenerationRow } }\n      ... on InputValidationError { fieldErrors { path message } }\n      ... on Error { message }\n    }\n  }\n": types.DashboardGenerateDocument,
    "\n  mutation DashboardCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess { cancelRequested generation { ...DashboardGenerationRow } }\n      ... on Error { message }\n    }\n  }\n": types.DashboardCancelDocument,
    "\n  subscription DashboardUpdates {\n    videoGenerationUpdated { ...DashboardGenerationRow }\n  }\n": types.DashboardUpdatesDocument,
    "\n  subscription DashboardEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { sequence message level timestamp } }\n      generation { ...DashboardGenerationRow }\n    }\n  }\n": types.DashboardEventsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CliGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess {\n        generation { id status backend queuePosition }\n      }\n      ... on InputValidationError {\n        fieldErrors { path message }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CliGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess {\n        generation { id status backend queuePosition }\n      }\n      ... on InputValidationError {\n        fieldErrors { path message }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CliCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess {\n        cancelRequested\n        generation { id status }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CliCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess {\n        cancelRequested\n        generation { id status }\n      }\n      ... on Error {\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment CliGeneration on VideoGeneration {\n    id\n    status\n    queuePosition\n    prompt\n    duration\n    generateAudio\n    backend\n    createdAt\n    startedAt\n    completedAt\n    imageUrl\n    endImageUrl\n    falRequestId\n    progress { fraction etaSeconds estimatedCompletionAt }\n    error { code message }\n    video { url fileSize contentType archiveStatus }\n  }\n"): (typeof documents)["\n  fragment CliGeneration on VideoGeneration {\n    id\n    status\n    queuePosition\n    prompt\n    duration\n    generateAudio\n    backend\n    createdAt\n    startedAt\n    completedAt\n    imageUrl\n    endImageUrl\n    falRequestId\n    progress { fraction etaSeconds estimatedCompletionAt }\n    error { code message }\n    video { url fileSize contentType archiveStatus }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CliShow($id: ID!) {\n    videoGeneration(id: $id) {\n      ...CliGeneration\n    }\n  }\n"): (typeof documents)["\n  query CliShow($id: ID!) {\n    videoGeneration(id: $id) {\n      ...CliGeneration\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CliList($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges {\n        node {\n          id\n          status\n          prompt\n          duration\n          createdAt\n          progress { fraction etaSeconds }\n          error { code }\n          video { url }\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query CliList($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges {\n        node {\n          id\n          status\n          prompt\n          duration\n          createdAt\n          progress { fraction etaSeconds }\n          error { code }\n          video { url }\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription CliEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      __typename\n      sequence\n      ... on VideoGenerationStatusEvent {\n        status\n        queuePosition\n      }\n      ... on VideoGenerationLogEvent {\n        log { message level timestamp }\n      }\n      generation {\n        id\n        status\n        progress { fraction etaSeconds estimatedCompletionAt }\n        error { code message }\n        video { url fileSize }\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription CliEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      __typename\n      sequence\n      ... on VideoGenerationStatusEvent {\n        status\n        queuePosition\n      }\n      ... on VideoGenerationLogEvent {\n        log { message level timestamp }\n      }\n      generation {\n        id\n        status\n        progress { fraction etaSeconds estimatedCompletionAt }\n        error { code message }\n        video { url fileSize }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ServerInfo {\n    serverInfo { falBackend simulated endpointId version }\n  }\n"): (typeof documents)["\n  query ServerInfo {\n    serverInfo { falBackend simulated endpointId version }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query RecentGenerations($first: Int!, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, filter: $filter) {\n      edges {\n        node { id status prompt createdAt video { url } error { code message } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query RecentGenerations($first: Int!, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, filter: $filter) {\n      edges {\n        node { id status prompt createdAt video { url } error { code message } }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription FollowGeneration($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { message } }\n      generation { status video { url } error { code message } }\n    }\n  }\n"): (typeof documents)["\n  subscription FollowGeneration($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { message } }\n      generation { status video { url } error { code message } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment DashboardGenerationRow on VideoGeneration {\n    id status queuePosition prompt multiPrompt { prompt duration } duration generateAudio backend\n    imageUrl endImageUrl shotType\n    progress { fraction etaSeconds estimatedCompletionAt }\n    createdAt startedAt completedAt updatedAt\n    error { code message }\n    video { url archiveStatus contentType }\n  }\n"): (typeof documents)["\n  fragment DashboardGenerationRow on VideoGeneration {\n    id status queuePosition prompt multiPrompt { prompt duration } duration generateAudio backend\n    imageUrl endImageUrl shotType\n    progress { fraction etaSeconds estimatedCompletionAt }\n    createdAt startedAt completedAt updatedAt\n    error { code message }\n    video { url archiveStatus contentType }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardServerInfo {\n    serverInfo { falBackend simulated version authRequired }\n  }\n"): (typeof documents)["\n  query DashboardServerInfo {\n    serverInfo { falBackend simulated version authRequired }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardGenerations($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges { node { ...DashboardGenerationRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query DashboardGenerations($first: Int!, $after: String, $filter: VideoGenerationFilter) {\n    videoGenerations(first: $first, after: $after, filter: $filter) {\n      edges { node { ...DashboardGenerationRow } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query DashboardGeneration($id: ID!) {\n    videoGeneration(id: $id) { ...DashboardGenerationRow imageUrl endImageUrl logs { sequence message level timestamp } }\n  }\n"): (typeof documents)["\n  query DashboardGeneration($id: ID!) {\n    videoGeneration(id: $id) { ...DashboardGenerationRow imageUrl endImageUrl logs { sequence message level timestamp } }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DashboardGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { generation { ...DashboardGenerationRow } }\n      ... on InputValidationError { fieldErrors { path message } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation DashboardGenerate($input: GenerateVideoInput!) {\n    generateVideo(input: $input) {\n      __typename\n      ... on GenerateVideoSuccess { generation { ...DashboardGenerationRow } }\n      ... on InputValidationError { fieldErrors { path message } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DashboardCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess { cancelRequested generation { ...DashboardGenerationRow } }\n      ... on Error { message }\n    }\n  }\n"): (typeof documents)["\n  mutation DashboardCancel($id: ID!) {\n    cancelVideoGeneration(id: $id) {\n      __typename\n      ... on CancelVideoGenerationSuccess { cancelRequested generation { ...DashboardGenerationRow } }\n      ... on Error { message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardUpdates {\n    videoGenerationUpdated { ...DashboardGenerationRow }\n  }\n"): (typeof documents)["\n  subscription DashboardUpdates {\n    videoGenerationUpdated { ...DashboardGenerationRow }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription DashboardEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { sequence message level timestamp } }\n      generation { ...DashboardGenerationRow }\n    }\n  }\n"): (typeof documents)["\n  subscription DashboardEvents($id: ID!, $afterSequence: Int) {\n    videoGenerationEvents(id: $id, afterSequence: $afterSequence) {\n      sequence\n      ... on VideoGenerationStatusEvent { status queuePosition }\n      ... on VideoGenerationLogEvent { log { sequence message level timestamp } }\n      generation { ...DashboardGenerationRow }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;