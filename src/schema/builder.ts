import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import type PrismaTypes from '../db/generated/pothos-types.ts';
import { getDatamodel } from '../db/generated/pothos-types.ts';
import type { GraphQLContext } from './context.ts';

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
  plugins: [ErrorsPlugin, PrismaPlugin, RelayPlugin],
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
    // Documentation for every connection's arguments and fields (introspection shows them to every client).
    firstArgOptions: { description: 'Return at most this many items from the start (after `after`).' },
    afterArgOptions: { description: 'Return items after this cursor (an endCursor from a previous page).' },
    lastArgOptions: { description: 'Return at most this many items from the end (before `before`).' },
    beforeArgOptions: { description: 'Return items before this cursor (a startCursor from a previous page).' },
    edgesFieldOptions: { description: 'The items of this page, each with its cursor.' },
    pageInfoFieldOptions: { description: 'Where this page is in the whole list.' },
    cursorFieldOptions: { description: 'Opaque position of this item, for `after` and `before`.' },
    nodeFieldOptions: { description: 'The item.' },
  },
  errors: {
    defaultTypes: [],
  },
});
