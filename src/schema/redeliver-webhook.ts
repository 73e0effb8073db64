import { RateLimitedError } from '../generations/errors.ts';
import { WebhookDeliveryNotFoundError } from '../outbound-webhooks/errors.ts';
import { builder } from './builder.ts';
import { WebhookDeliveryRef } from './webhook-delivery.ts';
import { nodeIdFromArg } from './webhook-ids.ts';

const RedeliverWebhookSuccess = builder.objectRef<{ delivery: typeof WebhookDeliveryRef.$inferType }>('RedeliverWebhookSuccess').implement({
  description: 'The delivery is PENDING again and due now, with a fresh round of retries.',
  fields: (t) => ({
    delivery: t.field({ type: WebhookDeliveryRef, description: 'The delivery, as it is now.', resolve: (outcome) => outcome.delivery }),
  }),
});

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: RedeliverWebhookSuccess,
    description: 'Sends a delivery again, with the same webhook-id (receivers that already have it can de-duplicate).',
    args: { deliveryId: t.arg.id({ required: true, description: 'The delivery to send again.' }) },
    errors: {
      types: [WebhookDeliveryNotFoundError, RateLimitedError],
      union: { name: 'RedeliverWebhookResult', description: 'The delivery, due again, or why nothing changed.' },
      directResult: true,
    },
    resolve: async (_root, args, ctx) => {
      await ctx.limitMutation();
      const id = nodeIdFromArg('WebhookDelivery', String(args.deliveryId));
      if (!id) throw new WebhookDeliveryNotFoundError(String(args.deliveryId));
      return { delivery: await ctx.webhooks.redeliver(ctx.caller, id) };
    },
  }),
);
