import { InputValidationError, RateLimitedError } from '../generations/errors.ts';
import { builder } from './builder.ts';
import { WebhookEndpointRef } from './webhook-endpoint.ts';
import { WebhookEventTypeEnum } from './webhook-event-type.ts';

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  description: 'A new webhook endpoint.',
  fields: (t) => ({
    url: t.string({
      required: true,
      description:
        'An http(s) URL that will receive POSTs. Unless WEBHOOK_ALLOW_PRIVATE_URLS=true its host must resolve to public addresses only.',
    }),
    events: t.field({
      type: [WebhookEventTypeEnum],
      required: false,
      description: 'The events to send; left out, every event.',
    }),
    description: t.string({ required: false, description: 'What the endpoint is for (at most 500 characters).' }),
  }),
});

const CreateWebhookEndpointSuccess = builder
  .objectRef<{ endpoint: typeof WebhookEndpointRef.$inferType; secret: string }>('CreateWebhookEndpointSuccess')
  .implement({
    description: 'The endpoint was registered. Keep the secret: it is shown only here.',
    fields: (t) => ({
      endpoint: t.field({ type: WebhookEndpointRef, description: 'The new endpoint.', resolve: (outcome) => outcome.endpoint }),
      secret: t.exposeString('secret', {
        description:
          'The signing secret (whsec_ and base64 of 32 random bytes) for verifying the webhook-signature header with any Standard Webhooks library. Shown once.',
      }),
    }),
  });

builder.mutationField('createWebhookEndpoint', (t) =>
  t.field({
    type: CreateWebhookEndpointSuccess,
    description: "Registers a URL to receive the caller's generation events, signed per Standard Webhooks.",
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true, description: 'The endpoint to register.' }) },
    errors: {
      types: [InputValidationError, RateLimitedError],
      union: { name: 'CreateWebhookEndpointResult', description: 'The new endpoint and its secret, or why it was not registered.' },
      directResult: true,
    },
    resolve: async (_root, { input }, ctx) => {
      await ctx.limitMutation();
      return ctx.webhooks.createEndpoint(ctx.caller, input);
    },
  }),
);
