import { isEnumType, isInputObjectType, isInterfaceType, isObjectType, isUnionType, type GraphQLField } from 'graphql';
import { describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/schema/index.ts';

// The webhook part of the contract: exact names, and a description on every type, field, argument and enum value.

const schema = buildSchema();
const webhookTypes = Object.values(schema.getTypeMap()).filter((t) => /Webhook/.test(t.name));

describe('the webhook schema', () => {
  it('has the names the issue gives', () => {
    const mutation = schema.getMutationType()!.getFields();
    expect(mutation.createWebhookEndpoint.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(['input: CreateWebhookEndpointInput!']);
    expect(mutation.deleteWebhookEndpoint.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(['id: ID!']);
    expect(mutation.redeliverWebhook.args.map((a) => `${a.name}: ${String(a.type)}`)).toEqual(['deliveryId: ID!']);
    const query = schema.getQueryType()!.getFields();
    expect(String(query.webhookEndpoints.type)).toBe('WebhookEndpointConnection!');
    expect(query.webhookEndpoints.args.map((a) => a.name)).toEqual(expect.arrayContaining(['first', 'after']));

    const input = schema.getType('CreateWebhookEndpointInput');
    if (!isInputObjectType(input)) throw new Error('CreateWebhookEndpointInput is not an input type');
    expect(
      Object.values(input.getFields())
        .map((f) => `${f.name}: ${String(f.type)}`)
        .sort(),
    ).toEqual(['description: String', 'events: [WebhookEventType!]', 'url: String!']);
    const success = schema.getType('CreateWebhookEndpointSuccess');
    if (!isObjectType(success)) throw new Error('CreateWebhookEndpointSuccess is not an object type');
    expect(Object.values(success.getFields()).map((f) => `${f.name}: ${String(f.type)}`)).toEqual([
      'endpoint: WebhookEndpoint!',
      'secret: String!',
    ]);

    const fieldsOf = (name: string) => {
      const type = schema.getType(name);
      if (!isObjectType(type)) throw new Error(`${name} is not an object type`);
      expect(type.getInterfaces().map((i) => i.name)).toContain('Node');
      return Object.keys(type.getFields());
    };
    expect(fieldsOf('WebhookEndpoint')).toEqual(expect.arrayContaining(['id', 'url', 'events', 'description', 'createdAt', 'deliveries']));
    expect(fieldsOf('WebhookEndpoint')).not.toContain('secret');
    expect(fieldsOf('WebhookDelivery')).toEqual(
      expect.arrayContaining([
        'id',
        'eventType',
        'status',
        'attempts',
        'lastStatusCode',
        'lastError',
        'nextAttemptAt',
        'deliveredAt',
        'createdAt',
        'generation',
      ]),
    );
    const values = (name: string) => {
      const type = schema.getType(name);
      if (!isEnumType(type)) throw new Error(`${name} is not an enum`);
      return type
        .getValues()
        .map((v) => v.name)
        .sort();
    };
    // The printed schema sorts values by name.
    expect(values('WebhookEventType')).toEqual(
      ['GENERATION_CREATED', 'GENERATION_STARTED', 'GENERATION_COMPLETED', 'GENERATION_FAILED', 'GENERATION_CANCELLED'].sort(),
    );
    expect(values('WebhookDeliveryStatus')).toEqual(['PENDING', 'DELIVERED', 'RETRYING', 'FAILED'].sort());
  });

  it('describes every webhook type, field, argument and enum value', () => {
    const missing: string[] = [];
    const field = (owner: string, f: GraphQLField<unknown, unknown>) => {
      if (!f.description) missing.push(`${owner}.${f.name}`);
      for (const arg of f.args) if (!arg.description) missing.push(`${owner}.${f.name}(${arg.name})`);
    };
    const roots = [schema.getQueryType()!, schema.getMutationType()!];
    for (const root of roots) for (const f of Object.values(root.getFields())) if (/[wW]ebhook/.test(f.name)) field(root.name, f);
    for (const type of webhookTypes) {
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const f of Object.values(type.getFields())) if (!(f.name === 'id' || f.name === 'message')) field(type.name, f);
      } else if (isInputObjectType(type)) {
        for (const f of Object.values(type.getFields())) if (!f.description) missing.push(`${type.name}.${f.name}`);
      } else if (isEnumType(type)) {
        for (const v of type.getValues()) if (!v.description) missing.push(`${type.name}.${v.name}`);
      } else if (!isUnionType(type)) {
        missing.push(`${type.name}: unexpected kind`);
      }
    }
    expect(missing).toEqual([]);
  });
});
