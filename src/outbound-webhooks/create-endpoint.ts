import type { PrismaClient } from '../db/index.ts';
import { InputValidationError, type FieldProblem } from '../generations/errors.ts';
import type { Caller } from '../generations/caller.ts';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events.ts';
import { newWebhookSecret, type SecretBox } from './secret.ts';
import { checkWebhookUrl } from './url-policy.ts';

export interface CreateEndpointInput {
  url: string;
  /** Omitted (or null): every event. */
  events?: readonly WebhookEventType[] | null;
  description?: string | null;
}

const MAX_DESCRIPTION = 500;

/**
 * Registers an endpoint for the caller's tenant and returns its signing secret, the only time it is shown.
 * The URL is checked against the SSRF policy here (after DNS) and again before every attempt.
 */
export async function createWebhookEndpoint(
  deps: { db: PrismaClient; box: SecretBox; allowPrivateUrls: boolean },
  caller: Caller,
  input: CreateEndpointInput,
) {
  const problems: FieldProblem[] = [];
  const url = input.url.trim();
  const check = await checkWebhookUrl(url, deps.allowPrivateUrls);
  if (!check.ok) problems.push({ path: ['input', 'url'], message: check.reason });
  if (input.events && input.events.length === 0) {
    problems.push({ path: ['input', 'events'], message: 'list at least one event, or leave events out for all of them' });
  }
  const description = input.description?.trim() || null;
  if (description && description.length > MAX_DESCRIPTION) {
    problems.push({ path: ['input', 'description'], message: `must be at most ${MAX_DESCRIPTION} characters` });
  }
  if (problems.length > 0 || !check.ok) throw new InputValidationError(problems);
  // Deduplicated, in the enum's order, so lists compare and read the same however they were given.
  const events = WEBHOOK_EVENT_TYPES.filter((type) => !input.events || input.events.includes(type));
  const secret = newWebhookSecret();
  const endpoint = await deps.db.webhookEndpoint.create({
    data: { tenantId: caller.tenantId, url: check.target.url.href, events, description, secretCiphertext: deps.box.seal(secret) },
  });
  return { endpoint, secret };
}
