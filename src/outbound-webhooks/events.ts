/** What an endpoint can subscribe to; the trigger in migration 20261204000000_outbound_webhooks raises them. */
export const WEBHOOK_EVENT_TYPES = [
  'GENERATION_CREATED',
  'GENERATION_STARTED',
  'GENERATION_COMPLETED',
  'GENERATION_FAILED',
  'GENERATION_CANCELLED',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'RETRYING', 'FAILED'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** The body's `type`: the enum value in lower-case dotted form, `GENERATION_COMPLETED` -> `generation.completed`. */
export function wireEventType(type: WebhookEventType): string {
  return type.toLowerCase().replace('_', '.');
}
