// Replaces @pothos/plugin-relay's resolver of a node's `id`, which is an `async` function (see below for why).
import SchemaBuilder, { BasePlugin, isThenable, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { GraphQLFieldResolver } from 'graphql';

/**
 * The relay plugin resolves every Node's `id` through `t.globalID`, whose resolver is `async`, even though the
 * id is a column of the row: each node of a list then costs a promise, and graphql-js completes the whole node
 * through its promise path (promiseForObject) instead of synchronously. On a 50-row history page that was about
 * 9 % of the server's CPU per request (M6, interleaved A/B on PostgreSQL). This resolves the same global id
 * (the type's own id resolver, then relay's encoding, or `relay.encodeGlobalID` when configured) without the
 * promise unless the id itself is one.
 *
 * List it last among the plugins: it replaces only the relay plugin's own resolver, and the plugins before it
 * wrap what it returns, as they wrapped the original.
 */
export class SyncNodeIdsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const relay = this.builder.options.relay;
    if (fieldConfig.kind !== 'Object' || fieldConfig.name !== (relay?.idFieldName ?? 'id')) return resolver;
    const typeConfig = this.buildCache.getTypeConfig(fieldConfig.parentType);
    // addNodeProperties (relay) puts this key on every Node object type and keeps the type's id options.
    if (typeConfig.kind !== 'Object' || !typeConfig.extensions || !('pothosParseGlobalID' in typeConfig.extensions)) return resolver;
    const idOf = (typeConfig.pothosOptions as { id?: { resolve?: GraphQLFieldResolver<unknown, Types['Context'], object> } }).id?.resolve;
    if (typeof idOf !== 'function') return resolver;
    const typeName = typeConfig.name;
    const encode = (id: unknown, context: Types['Context']) =>
      relay?.encodeGlobalID ? relay.encodeGlobalID(typeName, String(id), context) : encodeAsRelay(typeName, String(id));
    return (parent, args, context, info) => {
      const id: unknown = idOf(parent, args, context, info);
      return isThenable(id) ? id.then((settled) => encode(settled, context)) : encode(id, context);
    };
  }
}

const NON_ASCII = /[^\x20-\x7e]/;

/**
 * relay's encodeGlobalID (base64 of the UTF-8 of `Type:id`), byte for byte: a printable-ASCII id (a uuid) is its own UTF-8,
 * so btoa encodes it without the Buffer relay allocates per id (50 per history page); any other goes to relay.
 */
function encodeAsRelay(typeName: string, id: string): string {
  const text = `${typeName}:${id}`;
  return NON_ASCII.test(text) ? encodeGlobalID(typeName, id) : btoa(text);
}

const pluginName = 'syncNodeIds';
SchemaBuilder.registerPlugin(pluginName, SyncNodeIdsPlugin);
/** The plugin's name, for the builder's `plugins` list (as Pothos' own plugins export theirs). */
export default pluginName;

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Pothos registers plugins in this global namespace
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      syncNodeIds: SyncNodeIdsPlugin<Types>;
    }
  }
}
