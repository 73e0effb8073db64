/**
 * The graphql-transport-ws protocol's wire format (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md):
 * the subprotocol name, the close codes and reasons, and the validation of what a client sends, as the graphql-ws
 * library's server applies them (graphql-ws.ts serves the protocol itself; see there why).
 */

export const GRAPHQL_TRANSPORT_WS_PROTOCOL = 'graphql-transport-ws';

/** Close codes and their reasons, exactly as graphql-ws' server sends them (its clients act on the codes). */
export const CLOSE = {
  internalServerError: { code: 4500, reason: 'Internal server error' },
  badRequest: { code: 4400, reason: 'Invalid message received' },
  unauthorized: { code: 4401, reason: 'Unauthorized' },
  forbidden: { code: 4403, reason: 'Forbidden' },
  subprotocolNotAcceptable: { code: 4406, reason: 'Subprotocol not acceptable' },
  initialisationTimeout: { code: 4408, reason: 'Connection initialisation timeout' },
  tooManyInitialisations: { code: 4429, reason: 'Too many initialisation requests' },
} as const;

/** 4409: a subscribe reused the id of an operation still running on the socket. */
export const SUBSCRIBER_EXISTS = 4409;

export interface SubscribePayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  extensions?: Record<string, unknown> | null;
}

/** A message a client may send, validated. */
export type ClientMessage =
  | { type: 'connection_init'; payload?: Record<string, unknown> | null }
  | { type: 'ping'; payload?: Record<string, unknown> | null }
  | { type: 'pong'; payload?: Record<string, unknown> | null }
  | { type: 'subscribe'; id: string; payload: SubscribePayload }
  | { type: 'complete'; id: string };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const nullishOr = (value: unknown, test: (value: unknown) => boolean) => value === undefined || value === null || test(value);
const isString = (value: unknown) => typeof value === 'string';

/** The message in a text (or binary) frame, or null when it is not one the protocol allows (closed with 4400). */
export function parseClientMessage(data: string): ClientMessage | null {
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isObject(message) || typeof message.type !== 'string') return null;
  switch (message.type) {
    case 'connection_init':
    case 'ping':
    case 'pong':
      return nullishOr(message.payload, isObject) ? (message as ClientMessage) : null;
    case 'subscribe': {
      const payload = message.payload;
      if (typeof message.id !== 'string' || message.id === '' || !isObject(payload) || typeof payload.query !== 'string') return null;
      if (
        !nullishOr(payload.variables, isObject) ||
        !nullishOr(payload.operationName, isString) ||
        !nullishOr(payload.extensions, isObject)
      )
        return null;
      return message as ClientMessage;
    }
    case 'complete':
      return typeof message.id === 'string' && message.id !== '' ? (message as ClientMessage) : null;
    // connection_ack, next and error are the server's to send: from a client they are a bad request (4400), where
    // graphql-ws' server throws and closes with 4500, as if the fault were its own.
    default:
      return null;
  }
}

/** The subprotocol to accept from those a client offered (ws' handleProtocols), or false to accept none. */
export function chooseProtocol(offered: Set<string>): string | false {
  return offered.has(GRAPHQL_TRANSPORT_WS_PROTOCOL) ? GRAPHQL_TRANSPORT_WS_PROTOCOL : false;
}
