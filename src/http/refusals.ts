import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * How the edge says no before GraphQL runs (gate, authentication, shutdown): a GraphQL-shaped error body with a
 * code and the HTTP status, never a stack trace, whether written to a Node response, returned from a Yoga
 * plugin or written raw to a socket whose upgrade was not accepted.
 */
export interface Refusal {
  status: number;
  message: string;
}

function refusalBody(status: number, message: string): string {
  const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
  return JSON.stringify({ errors: [{ message, extensions: { code, http: { status } } }] });
}

export function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) {
  // After a refused body the connection is closed: the rest of that body is never read.
  res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}), ...headers });
  res.end(refusalBody(status, message));
}

/** The same refusal as refuse(), as a Response for a Yoga plugin's endResponse. */
export function refusalResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(refusalBody(status, message), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** A refusal written to a socket whose upgrade was not accepted (there is no ServerResponse for it). */
export function refuseUpgrade(socket: Duplex, refusal: Refusal) {
  const body = JSON.stringify({
    errors: [
      {
        message: refusal.message,
        extensions: { code: refusal.status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST', http: { status: refusal.status } },
      },
    ],
  });
  const reason =
    refusal.status === 403
      ? 'Forbidden'
      : refusal.status === 404
        ? 'Not Found'
        : refusal.status === 503
          ? 'Service Unavailable'
          : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${refusal.status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
