import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../db/generated/pothos-types.ts';
import { getDatamodel } from '../db/generated/pothos-types.ts';
import type { GraphQLContext } from './context.ts';
import SyncNodeIdsPlugin from './sync-node-ids.ts';

/**
 * The schema builder and its plugins. No types are defined here: each lives in its own file with its
 * root fields, and index.ts imports them all.
 */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    ID: { Input: string; Output: string };
    // Uploads (GraphQL multipart request spec): input only.
    File: { Input: Blob; Output: never };
  };
  DefaultFieldNullability: false;
}>({
  // SyncNodeIdsPlugin last: it replaces the relay plugin's async node id resolver (see sync-node-ids.ts).
  plugins: [ErrorsPlugin, PrismaPlugin, RelayPlugin, SyncNodeIdsPlugin],
  defaultFieldNullability: false,
  prisma: {
    // The client is per request context (one per app instance), never a module-level singleton.
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // The contract exposes node(id) only.
    nodesQueryOptions: false,
    // Descriptions of what the plugin generates (Node, PageInfo, connection arguments, edges), so every part
    // of the schema is documented (test/schema.test.ts checks).
    nodeTypeOptions: { description: 'An object with a global id, which node(id) finds again.' },
    idFieldOptions: { description: 'Global id (Relay): opaque, stable, and accepted by node(id) and the id arguments.' },
    nodeQueryOptions: {
      description: 'The object with this global id, or null when there is none the caller may see.',
      args: { id: { description: 'A global id, as returned in an id field.' } },
    },
    pageInfoTypeOptions: { description: 'Where a page of a connection lies in the whole list (Relay cursor connections).' },
    hasNextPageFieldOptions: { description: 'Whether more items follow this page (asked for with first/after).' },
    hasPreviousPageFieldOptions: { description: 'Whether items precede this page (asked for with last/before).' },
    startCursorFieldOptions: { description: "The first edge's cursor; null for an empty page." },
    endCursorFieldOptions: { description: "The last edge's cursor; null for an empty page. Pass it as after for the next page." },
    firstArgOptions: { description: 'Return at most this many items from the start (or after the cursor in after).' },
    afterArgOptions: { description: 'Return items after the edge with this cursor.' },
    lastArgOptions: { description: 'Return at most this many items from the end (or before the cursor in before).' },
    beforeArgOptions: { description: 'Return items before the edge with this cursor.' },
    edgesFieldOptions: { description: 'The items of this page, each with its cursor.' },
    pageInfoFieldOptions: { description: 'Where this page lies in the whole list.' },
    cursorFieldOptions: { description: 'Opaque position of this item, for after and before.' },
    nodeFieldOptions: { description: 'The item.' },
  },
  errors: {
    defaultTypes: [],
  },
});
