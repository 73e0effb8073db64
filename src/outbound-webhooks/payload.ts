import { wireEventType, type WebhookEventType } from './events.ts';

/** What the outbox trigger recorded about the generation when the event happened (jsonb, see the migration). */
export interface EventSnapshot {
  status: string;
  prompt: string | null;
  duration: number;
  errorCode: string | null;
  errorMessage: string | null;
  /** PostgreSQL's text form of a UTC timestamp(3), e.g. `2026-12-04T20:00:00.123` (no zone). */
  createdAt: string;
  completedAt: string | null;
}

export interface PayloadVideo {
  url: string;
  contentType: string | null;
  fileName: string | null;
  fileSize: number | null;
}

/**
 * The Standard Webhooks body: `{"type":"generation.completed","timestamp":"<ISO>","data":{...}}`. The timestamp
 * is when the event happened, so every retry sends the same body; only the video's URL (signed, built at send
 * time from PUBLIC_URL) may differ.
 */
export function buildPayload(input: {
  eventType: WebhookEventType;
  occurredAt: Date;
  generationGlobalId: string;
  snapshot: EventSnapshot;
  video: PayloadVideo | null;
}): string {
  const { snapshot } = input;
  return JSON.stringify({
    type: wireEventType(input.eventType),
    timestamp: input.occurredAt.toISOString(),
    data: {
      id: input.generationGlobalId,
      status: snapshot.status,
      prompt: snapshot.prompt,
      duration: snapshot.duration,
      video: input.video,
      error: snapshot.errorCode ? { code: snapshot.errorCode, message: snapshot.errorMessage ?? snapshot.errorCode } : null,
      createdAt: utcIso(snapshot.createdAt),
      completedAt: snapshot.completedAt ? utcIso(snapshot.completedAt) : null,
    },
  });
}

// The columns are UTC without a zone (Prisma's timestamp(3)); jsonb renders them without one, too.
function utcIso(value: string): string {
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}
