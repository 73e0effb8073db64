import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { FalLogEntry, SimulatedRequest, SimulatorBehaviour } from './types.ts';

/** What a status stream is told: the request as it is now, and the log lines that just arrived. */
export interface RequestUpdate {
  request: SimulatedRequest;
  newLogs: FalLogEntry[];
}

export interface LiveRequest extends SimulatedRequest {
  /** Per-request updates for status streams ('update', RequestUpdate). */
  readonly updates: EventEmitter;
  /** Error detail from input validation; when set, the result is a 422 whatever the behaviour says. */
  validationErrors: unknown[];
  /** `x-fal-queue-priority` (protocol §1.5): low requests wait behind normal ones for a free slot. */
  priority: 'low' | 'normal';
  startTimeoutAt: number | null;
  timedOut: boolean;
  pausedAt: 'IN_PROGRESS' | 'COMPLETED' | null;
  startedAt: number | null;
  completedAt: number | null;
  /** Wall-clock time of the last step (submit, queue move, start, log line, completion): the next is due from it. */
  lastStepAt: number;
  /** A restored request that is still catching up with the steps it missed while the simulator was down. */
  replaying: boolean;
  /** Completed with a webhook that has not been delivered (or given up) yet. */
  webhookPending: boolean;
}

/**
 * fal's log timestamps look like "2026-02-10T12:00:01.123456": UTC, microseconds, no zone suffix (protocol §3).
 * The microseconds come from the monotonic clock, so lines produced within one millisecond still sort in order.
 */
export function falTimestamp(epochMs: number = performance.timeOrigin + performance.now()): string {
  const micros = Math.floor(epochMs * 1000);
  const date = new Date(Math.floor(micros / 1000));
  return `${date.toISOString().slice(0, 23)}${String(micros % 1000).padStart(3, '0')}`;
}

export const LOG_MESSAGES = [
  'Loading model weights',
  'Preparing start frame',
  'Encoding prompt',
  'Generating frames',
  'Refining motion',
  'Upscaling frames',
  'Compositing shots',
  'Encoding video',
];

export function createRequest(init: {
  endpointId: string;
  input: unknown;
  headers: Record<string, string>;
  webhookUrl?: string;
  behaviour: SimulatorBehaviour;
  validationErrors: unknown[];
  startTimeoutSeconds: number | null;
}): LiveRequest {
  return {
    id: randomUUID(),
    endpointId: init.endpointId,
    input: init.input,
    headers: init.headers,
    status: 'IN_QUEUE',
    queuePosition: Math.max(0, init.behaviour.queuePosition),
    logs: [],
    cancelled: false,
    webhookUrl: init.webhookUrl,
    behaviour: init.behaviour,
    streamConnections: 0,
    updates: new EventEmitter().setMaxListeners(0),
    validationErrors: init.validationErrors,
    priority: init.headers['x-fal-queue-priority'] === 'low' ? 'low' : 'normal',
    startTimeoutAt: init.startTimeoutSeconds === null ? null : Date.now() + init.startTimeoutSeconds * 1000,
    timedOut: false,
    pausedAt: null,
    startedAt: null,
    completedAt: null,
    lastStepAt: Date.now(),
    replaying: false,
    webhookPending: false,
  };
}
