import { encodeGlobalID } from '@pothos/plugin-relay';
import { RateLimitedError } from '../generations/errors.ts';
import { WebhookEndpointNotFoundError } from '../outbound-webhooks/errors.ts';
import { builder } from './builder.ts';
import { nodeIdFromArg } from './webhook-ids.ts';
import './webhook-endpoint.ts';

const DeleteWebhookEndpointSuccess = builder.objectRef<{ id: string }>('DeleteWebhookEndpointSuccess').implement({
  description: 'The endpoint and its deliveries are gone; nothing more is sent to it.',
  fields: (t) => ({
    deletedId: t.id({
      description: 'The id of the deleted endpoint.',
      resolve: (outcome) => encodeGlobalID('WebhookEndpoint', outcome.id),
    }),
  }),
});

builder.mutationField('deleteWebhookEndpoint', (t) =>
  t.field({
    type: DeleteWebhookEndpointSuccess,
    description: "Deletes one of the caller's webhook endpoints, with its deliveries.",
    args: { id: t.arg.id({ required: true, description: 'The endpoint to delete.' }) },
    errors: {
      types: [WebhookEndpointNotFoundError, RateLimitedError],
      union: { name: 'DeleteWebhookEndpointResult', description: 'The id of the deleted endpoint, or why nothing was deleted.' },
      directResult: true,
    },
    resolve: async (_root, args, ctx) => {
      await ctx.limitMutation();
      const id = nodeIdFromArg('WebhookEndpoint', String(args.id));
      if (!id) throw new WebhookEndpointNotFoundError(String(args.id));
      return ctx.webhooks.deleteEndpoint(ctx.caller, id);
    },
  }),
);
