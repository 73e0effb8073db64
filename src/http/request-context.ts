import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { withLogContext } from '../log/context.ts';
import type { Logger } from '../logger.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

// What a client may choose as its request id: printable ASCII only (no control characters, so nothing can
// forge or split a log line), bounded so it cannot bloat every line of the request.
const ACCEPTED_ID = /^[\x20-\x7e]{1,128}$/;
const ids = new WeakMap<IncomingMessage, string>();

/** The request's id: the client's `x-request-id` when acceptable, else a new UUID. Stable per request. */
export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (id === undefined) {
    const given = req.headers[REQUEST_ID_HEADER];
    id = typeof given === 'string' && ACCEPTED_ID.test(given) ? given : randomUUID();
    ids.set(req, id);
  }
  return id;
}

/** The path alone: query strings carry signatures (video URLs) and documents, and never reach the log. */
function pathOf(req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?')[0].split('#')[0];
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}

/**
 * Wraps the Node request handler: gives the request its id (echoed in the `x-request-id` response header),
 * runs the handler in a log context carrying it, so every line the request causes has `requestId`, and writes
 * one access-log line when the response is done (or the client went away).
 */
export function withRequestContext(
  logger: Logger,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const requestId = requestIdOf(req);
    const started = performance.now();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.once('close', () => {
      const method = req.method ?? 'GET';
      const path = pathOf(req);
      const status = res.statusCode;
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      // Emitted outside the request's async context, so the id is passed explicitly.
      logger.info(`${method} ${path} ${status} ${durationMs}ms`, {
        requestId,
        method,
        path,
        status,
        durationMs,
        ...(res.writableFinished ? {} : { aborted: true }),
      });
    });
    withLogContext({ requestId }, () => handler(req, res));
  };
}

/**
 * Gives each WebSocket upgrade a request id too: echoed in the 101 response, and on the lines logged when the
 * socket opens and closes.
 */
export function observeWebSockets(wss: WebSocketServer, logger: Logger): void {
  wss.on('headers', (headers: string[], req: IncomingMessage) => {
    headers.push(`${REQUEST_ID_HEADER}: ${requestIdOf(req)}`);
  });
  wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
    const requestId = requestIdOf(req);
    const path = pathOf(req);
    const started = performance.now();
    logger.info(`WebSocket ${path} connected`, { requestId, path, transport: 'websocket' });
    socket.once('close', (code: number) => {
      const durationMs = Math.round(performance.now() - started);
      logger.info(`WebSocket ${path} closed ${code} after ${durationMs}ms`, { requestId, path, transport: 'websocket', code, durationMs });
    });
  });
}
