import type { FalResult, FalVideoFile } from './types.ts';

/**
 * fal's result payload and webhook delivery, parsed in one place: the gateway reads the same `video` object
 * from the result endpoint (protocol §5) that a webhook carries in `payload` (§7.2).
 */

/** A webhook delivery after its signature was verified (protocol §7.2). */
export interface FalWebhookDelivery {
  requestId: string;
  status: 'OK' | 'ERROR';
  payload: unknown;
  error: string | null;
  /** Our generation id, carried in the webhook URL so a request whose id we never stored can be matched. */
  generationId: string | null;
}

/** The output video of a model result (`{ video: { url, content_type, file_name, file_size } }`), or null. */
export function videoFileOf(payload: unknown): FalVideoFile | null {
  const video = (payload as { video?: Record<string, unknown> } | null | undefined)?.video;
  if (!video || typeof video.url !== 'string') return null;
  return {
    url: video.url,
    contentType: stringOrNull(video.content_type),
    fileName: stringOrNull(video.file_name),
    fileSize: numberOrNull(video.file_size),
  };
}

/**
 * A signed webhook body (raw bytes) checked against the request id its signature covers. The body's own
 * request_id must match it, and its status must be one fal sends; `generationId` comes from our URL.
 */
export function parseWebhookBody(
  raw: Uint8Array,
  signedRequestId: string,
  generationId: string | null,
): { ok: true; delivery: FalWebhookDelivery } | { ok: false; reason: string } {
  let body: { request_id?: unknown; status?: unknown; payload?: unknown; error?: unknown };
  try {
    body = JSON.parse(new TextDecoder().decode(raw)) as typeof body;
  } catch {
    return { ok: false, reason: 'webhook body is not valid JSON' };
  }
  if (body.request_id !== signedRequestId || (body.status !== 'OK' && body.status !== 'ERROR')) {
    return { ok: false, reason: 'webhook body does not match its signed request id or has no valid status' };
  }
  return {
    ok: true,
    delivery: {
      requestId: signedRequestId,
      status: body.status,
      payload: body.payload ?? null,
      error: typeof body.error === 'string' ? body.error : null,
      generationId,
    },
  };
}

/** What a delivery says about the outcome, in the same shape as the result endpoint's. */
export function webhookOutcome(delivery: FalWebhookDelivery): FalResult {
  const video = delivery.status === 'OK' ? videoFileOf(delivery.payload) : null;
  if (video) return { ok: true, video };
  return { ok: false, code: 'FAL_WEBHOOK_ERROR', message: delivery.error ?? 'fal reported an error', httpStatus: null };
}

export const numberOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const stringOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
