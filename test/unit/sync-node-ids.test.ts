import { encodeGlobalID } from '@pothos/plugin-relay';
import { isObjectType, type GraphQLResolveInfo } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/schema/index.ts';

// Every Node's id resolves to relay's global id without a promise (src/schema/sync-node-ids.ts): graphql-js then
// completes a list of nodes synchronously.
describe('node ids', () => {
  it('resolve synchronously to the global id, on every Node type', () => {
    const schema = buildSchema();
    const nodes = Object.values(schema.getTypeMap()).filter((t) => isObjectType(t) && t.getInterfaces().some((i) => i.name === 'Node'));
    expect(nodes.map((t) => t.name).sort()).toEqual(['VideoGeneration', 'WebhookDelivery', 'WebhookEndpoint']);
    const id = '019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b';
    for (const type of nodes) {
      if (!isObjectType(type)) continue;
      const resolve = type.getFields().id.resolve!;
      const value: unknown = resolve({ id }, {}, {}, { parentType: type, fieldName: 'id' } as unknown as GraphQLResolveInfo);
      expect(value, type.name).toBe(encodeGlobalID(type.name, id));
      // Non-ASCII ids take relay's own UTF-8 encoding (btoa would read them as Latin-1 or throw).
      for (const other of ['café-1', 'ключ-✓'])
        expect(resolve({ id: other }, {}, {}, { parentType: type, fieldName: 'id' } as unknown as GraphQLResolveInfo)).toBe(
          encodeGlobalID(type.name, other),
        );
    }
  });
});
