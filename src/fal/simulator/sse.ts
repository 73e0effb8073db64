import type { ServerResponse } from 'node:http';
import type { LiveRequest, RequestUpdate } from './request.ts';
import { statusBody, type QueueContext } from './queue-routes.ts';
import type { FalLogEntry } from './types.ts';

/**
 * The SSE status stream (protocol §4).
 *
 * - The current state is sent first, then one `data:` event per state change, queue move or log line. Each
 *   event carries only the log lines that are new since the previous event, because the JS client
 *   concatenates them (§4 item 8).
 * - No history replay: a connection opened while the request is running gets the current status with
 *   `logs: []`, then new lines only. What real fal replays on reconnect is unverified (§4 item 7); a client that
 *   needs the lines it missed polls `/status?logs=1`, which is cumulative (§3).
 * - `: keepalive` comments every keepaliveMs (§4: 15 s), and the connection is closed right after COMPLETED
 *   (the client would hang otherwise, §4 item 5). A request that is already COMPLETED gets one event and a close.
 *
 * Fault behaviours: `dropStreamAfterEvents` cuts the connection after the Nth event without ending the
 * chunked body (as a failing proxy would: the client gets the N events, then a transport error);
 * `streamNeverCloses` keeps it open after COMPLETED; `streamDelayMs` sends every event late (a congested stream).
 */
export function stream(ctx: QueueContext, res: ServerResponse, request: LiveRequest, url: URL): void {
  ctx.stats.openStreams += 1;
  request.streamConnections += 1;
  const withLogs = url.searchParams.get('logs') === '1';
  const { dropStreamAfterEvents, streamNeverCloses, streamDelayMs = 0 } = request.behaviour;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-fal-request-id': request.id,
  });
  // Headers go out now, so the client's fetch resolves even if nothing happens for a while.
  res.flushHeaders();

  let sent = 0;
  let closed = false;
  const delayed = new Set<NodeJS.Timeout>();
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), ctx.keepaliveMs);

  const close = (graceful: boolean, drop = false) => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const timer of delayed) clearTimeout(timer);
    request.updates.off('update', onUpdate);
    ctx.stats.openStreams -= 1;
    untrack();
    if (graceful) res.end();
    // A drop lets what was written reach the client first, then cuts the connection (no final chunk).
    else if (drop && res.socket) res.socket.destroySoon();
    else res.destroy();
  };

  const write = (body: Record<string, unknown>) => {
    if (closed) return;
    res.write(`data: ${JSON.stringify(body)}\n\n`);
    sent += 1;
    if (body.status === 'COMPLETED' && !streamNeverCloses) close(true);
    else if (dropStreamAfterEvents !== undefined && sent >= dropStreamAfterEvents) close(false, true);
  };

  // The body is built when the change happens, not when it is sent, so a delayed event still describes it.
  const send = (logs: FalLogEntry[]) => {
    const body = statusBody(ctx, request, withLogs ? logs : null);
    if (streamDelayMs <= 0) return write(body);
    const timer = setTimeout(() => {
      delayed.delete(timer);
      write(body);
    }, streamDelayMs);
    delayed.add(timer);
  };

  const onUpdate = ({ newLogs }: RequestUpdate) => send(newLogs);
  const untrack = ctx.trackStream(() => close(false));
  request.updates.on('update', onUpdate);
  // res, not req: the response's 'close' is what reports the client going away mid-stream.
  res.on('close', () => close(false));
  send([]);
}
