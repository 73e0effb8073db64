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
  },
  errors: {
    defaultTypes: [],
  },
});
