import type { PrismaClient } from '../db/index.ts';
import type { Caller } from '../generations/caller.ts';
import { createWebhookEndpoint, type CreateEndpointInput } from './create-endpoint.ts';
import { deleteWebhookEndpoint } from './delete-endpoint.ts';
import { redeliverWebhook } from './redeliver.ts';
import type { SecretBox } from './secret.ts';

export { createWebhookDispatcher, type WebhookDispatcher } from './dispatcher.ts';
export { createSecretBox, loadWebhookServerSecret } from './secret.ts';

/** The webhook verbs the GraphQL layer calls, bound to this app's database and settings. */
export interface WebhookService {
  createEndpoint(caller: Caller, input: CreateEndpointInput): ReturnType<typeof createWebhookEndpoint>;
  deleteEndpoint(caller: Caller, id: string): Promise<{ id: string }>;
  redeliver(caller: Caller, deliveryId: string): ReturnType<typeof redeliverWebhook>;
}

export function createWebhookService(deps: { db: PrismaClient; box: SecretBox; allowPrivateUrls: boolean }): WebhookService {
  return {
    createEndpoint: (caller, input) => createWebhookEndpoint(deps, caller, input),
    deleteEndpoint: (caller, id) => deleteWebhookEndpoint(deps.db, caller, id),
    redeliver: (caller, id) => redeliverWebhook(deps.db, caller, id),
  };
}
