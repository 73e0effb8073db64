import { visibleTo } from '../generations/caller.ts';
import { WebhookDeliveryNotFoundError } from '../outbound-webhooks/errors.ts';
import { builder } from './builder.ts';
import { ErrorInterface } from './errors.ts';
import { WebhookEventTypeEnum } from './webhook-event-type.ts';

export const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where one delivery of one event to one endpoint stands.',
  values: {
    PENDING: { description: 'Waiting for its first attempt (or for a redelivery).' },
    DELIVERED: { description: 'The endpoint answered 2xx within WEBHOOK_TIMEOUT_MS.' },
    RETRYING: { description: 'An attempt failed; the next one is due at nextAttemptAt (WEBHOOK_RETRY_SCHEDULE).' },
    FAILED: { description: 'Every attempt of the retry schedule failed; redeliverWebhook sends it again.' },
  } as const,
});

export const WebhookDeliveryRef = builder.prismaNode('WebhookDelivery', {
  name: 'WebhookDelivery',
  description:
    'One event sent (or to be sent) to one endpoint, signed per Standard Webhooks. Its id is the webhook-id header, the same on every attempt.',
  id: { field: 'id' },
  // node(id) finds only the caller's own deliveries: a foreign id looks exactly like an unknown one.
  findUnique: (id, ctx) => ({ id, ...visibleTo(ctx.caller) }),
  nullable: true,
  fields: (t) => ({
    eventType: t.field({ type: WebhookEventTypeEnum, description: 'The event this delivery reports.', resolve: (d) => d.eventType }),
    status: t.field({ type: WebhookDeliveryStatusEnum, description: 'Where the delivery stands.', resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts', { description: 'Attempts made so far, over every round (redeliveries included).' }),
    lastStatusCode: t.exposeInt('lastStatusCode', {
      nullable: true,
      description: "The HTTP status of the last attempt's answer; null before the first attempt or when there was no answer.",
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the last attempt failed (HTTP status, timeout, connection error, refused address); null if it succeeded.',
    }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once the delivery is DELIVERED or FAILED.',
      resolve: (d) => (d.status === 'PENDING' || d.status === 'RETRYING' ? d.nextAttemptAt : null),
    }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When an attempt first succeeded.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the event happened and the delivery was recorded.' }),
    generation: t.relation('generation', { description: 'The generation the event is about.' }),
  }),
});

builder.objectType(WebhookDeliveryNotFoundError, {
  name: 'WebhookDeliveryNotFoundError',
  description: 'No webhook delivery with this id is visible to the caller; nothing changed.',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});
