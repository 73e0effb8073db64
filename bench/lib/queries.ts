/** The documents every server gets: the same subscription for reelgraph and the peers. */
export const EVENTS_QUERY =
  'subscription($id: ID!) { videoGenerationEvents(id: $id) { sequence ... on VideoGenerationLogEvent { log { message timestamp } } ... on VideoGenerationStatusEvent { status queuePosition } generation { id status } } }';
