/** Expected failures of the webhook verbs; the GraphQL layer maps them to typed results. */
export class WebhookEndpointNotFoundError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`No webhook endpoint with id "${id}"`);
    this.name = 'WebhookEndpointNotFoundError';
    this.id = id;
  }
}

export class WebhookDeliveryNotFoundError extends Error {
  readonly id: string;
  constructor(id: string) {
    super(`No webhook delivery with id "${id}"`);
    this.name = 'WebhookDeliveryNotFoundError';
    this.id = id;
  }
}
