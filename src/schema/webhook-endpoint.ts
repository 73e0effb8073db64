import { visibleTo } from '../generations/caller.ts';
import { WebhookEndpointNotFoundError } from '../outbound-webhooks/errors.ts';
import { builder } from './builder.ts';
import { ErrorInterface } from './errors.ts';
import './webhook-delivery.ts';
import { WebhookEventTypeEnum } from './webhook-event-type.ts';

export const WebhookEndpointRef = builder.prismaNode('WebhookEndpoint', {
  name: 'WebhookEndpoint',
  description: "A URL that receives the tenant's generation events as signed POSTs (Standard Webhooks). Its secret is never shown again.",
  id: { field: 'id' },
  // node(id) finds only the caller's own endpoints: a foreign id looks exactly like an unknown one.
  findUnique: (id, ctx) => ({ id, ...visibleTo(ctx.caller) }),
  nullable: true,
  // Never read the sealed secret for a query.
  select: { id: true },
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Where events are POSTed.' }),
    events: t.field({
      type: [WebhookEventTypeEnum],
      description: 'The events it receives.',
      select: { events: true },
      resolve: (e) => e.events,
    }),
    description: t.exposeString('description', { nullable: true, description: 'What the endpoint is for, as its creator wrote.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was registered.' }),
    deliveries: t.relatedConnection(
      'deliveries',
      {
        cursor: 'id',
        description: 'Deliveries to this endpoint, newest first (Relay connection).',
        query: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] },
      },
      { name: 'WebhookDeliveryConnection', description: 'A page of webhook deliveries.' },
      { name: 'WebhookDeliveryEdge', description: 'One webhook delivery in a page.' },
    ),
  }),
});

builder.objectType(WebhookEndpointNotFoundError, {
  name: 'WebhookEndpointNotFoundError',
  description: 'No webhook endpoint with this id is visible to the caller; nothing changed.',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

builder.queryField('webhookEndpoints', (t) =>
  t.prismaConnection(
    {
      type: 'WebhookEndpoint',
      cursor: 'id',
      description: "The caller's webhook endpoints, newest first (Relay connection).",
      resolve: (query, _root, _args, ctx) =>
        ctx.db.webhookEndpoint.findMany({ ...query, where: visibleTo(ctx.caller), orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
    },
    { name: 'WebhookEndpointConnection', description: 'A page of webhook endpoints.' },
    { name: 'WebhookEndpointEdge', description: 'One webhook endpoint in a page.' },
  ),
);
