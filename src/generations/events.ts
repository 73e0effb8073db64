import type { WrittenRow } from './generation-row.ts';
import type { GenerationStatus } from './status.ts';

/**
 * One entry of a generation's ordered event log, as stored and as delivered to subscribers. `batch` names the
 * write a live log event came from (the same for every line one statement wrote for one generation), so
 * whatever is read about the generation after that write can be shared by all of its lines (the hub gives them one
 * batchMemo, see live-event.ts).
 *
 * `row` is the generation as the write that made the event left it, on the events the store hands back (see
 * carryRow): in this process only. It is non-enumerable, so the wire never sees it (JSON over Redis, toMessage)
 * and neither does a copy (`{ ...event }`: the hub's cache and replays, which must read the row as it is now).
 */
export type GenerationEvent =
  | {
      kind: 'STATUS';
      generationId: string;
      sequence: number;
      status: GenerationStatus;
      queuePosition: number | null;
      at: Date;
      readonly row?: WrittenRow;
    }
  | { kind: 'LOG'; generationId: string; sequence: number; log: GenerationLogLine; at: Date; batch?: string; readonly row?: WrittenRow };

/** Gives a freshly written event its write's row (see GenerationEvent): the one place `row` is set. */
export function carryRow<E extends GenerationEvent>(event: E, row: WrittenRow): E {
  return Object.defineProperty(event, 'row', { value: row, enumerable: false });
}

export interface GenerationLogLine {
  sequence: number;
  message: string;
  level: string;
  timestamp: Date;
}

/**
 * The same event on the wire between instances (dates as ISO strings, so it survives JSON over Redis).
 * Small on purpose: clients' selections are resolved from the database, not from the message.
 */
export type GenerationEventMessage =
  | { kind: 'STATUS'; generationId: string; sequence: number; status: GenerationStatus; queuePosition: number | null; at: string }
  | {
      kind: 'LOG';
      generationId: string;
      sequence: number;
      log: { sequence: number; message: string; level: string; timestamp: string };
      at: string;
      batch?: string;
    };

export interface GenerationUpdatedMessage {
  id: string;
  tenantId: string;
}

export function toMessage(event: GenerationEvent): GenerationEventMessage {
  return event.kind === 'STATUS'
    ? { ...event, at: event.at.toISOString() }
    : { ...event, at: event.at.toISOString(), log: { ...event.log, timestamp: event.log.timestamp.toISOString() } };
}

/**
 * What travels on a generation's topic: the event itself on the in-memory bus (handed over, never touched again
 * by its publisher), its message after Redis. JSON renders the event's Dates as the message's ISO strings, so
 * the wire is the same as toMessage's, and the in-memory bus converts nothing per event.
 */
export type PublishedEvent = GenerationEvent | GenerationEventMessage;

/** The event of a published payload: the very object when it came in memory, else parsed from its message. */
export function fromPublished(payload: PublishedEvent): GenerationEvent {
  return payload.at instanceof Date ? (payload as GenerationEvent) : fromMessage(payload as GenerationEventMessage);
}

export function fromMessage(message: GenerationEventMessage): GenerationEvent {
  return message.kind === 'STATUS'
    ? { ...message, at: new Date(message.at) }
    : { ...message, at: new Date(message.at), log: { ...message.log, timestamp: new Date(message.log.timestamp) } };
}
