import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { refuse, refusalResponse, type Refusal } from './refusals.ts';

/**
 * The request gate: what every HTTP request and WebSocket upgrade passes before anything else runs (routes,
 * Yoga, authentication). It answers the request itself when it refuses it, and otherwise returns the body
 * stream the rest of the server may read.
 *
 * - Host (open mode only): a page on any web site can make a browser send requests to a name the attacker
 *   points at 127.0.0.1 (DNS rebinding); while the server needs no key, only loopback names and PUBLIC_URL's
 *   host are served.
 * - Origin (every mode): a browser request carries the page's origin. Only our own origin (the Host the
 *   request came to, or PUBLIC_URL) and the exact origins in CORS_ORIGINS may call us; CORS alone would not
 *   protect "simple" POSTs or WebSocket handshakes, which the browser sends without asking first.
 * - CORS: preflights from CORS_ORIGINS are answered here, without a key (browsers never send one on a
 *   preflight); their actual requests get the same Access-Control-Allow-Origin. Never a wildcard, never
 *   credentials (keys travel in the Authorization header, not in cookies).
 * - Body size: counted while it streams, whatever the framing (Content-Length, chunked), so no route ever
 *   holds more than its limit in memory; over the limit the request is answered 413 and the rest is dropped.
 * - CSRF (useCsrfPrevention, a Yoga plugin like Yoga's own CSRF prevention): form, multipart and text bodies
 *   (which browsers send cross-site without a preflight) must carry a header only a script allowed by CORS can
 *   set (the names Yoga's and Apollo's CSRF prevention use).
 *
 * Host, Origin, CORS and body size stay in front of Yoga, on the Node request: the same checks guard WebSocket
 * upgrades (which never reach Yoga), Yoga's built-in plugins (its health check, GraphiQL) run before any plugin
 * of ours, and a body is only bounded while it streams, with a lingering close that needs the Node socket.
 */

export interface GateOptions {
  /** Exact origins allowed to call the API from a browser (CORS_ORIGINS). */
  corsOrigins: readonly string[];
  /** Our external origin (PUBLIC_URL), or null. */
  publicUrl: string | null;
  /** True while requests need no key: only then is the Host checked. */
  isOpen: () => Promise<boolean>;
  graphqlPath: string;
  maxBodyBytes: number;
  /** For multipart (file upload) GraphQL requests. */
  maxUploadBodyBytes: number;
}

export interface Gate {
  /**
   * Checks an HTTP request. Returns null when it was answered here (refused, or a preflight), else the request
   * to hand on: the same headers, with a body that stops at the route's limit.
   */
  admit(req: IncomingMessage, res: ServerResponse): Promise<IncomingMessage | null>;
  /** Checks a WebSocket upgrade (Host and Origin); a refusal is written to the socket by the caller. */
  admitUpgrade(req: IncomingMessage): Promise<Refusal | null>;
}

export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'x-graphql-yoga-csrf', 'graphql-require-preflight', 'x-request-id'];
// Response headers a cross-origin script may read (rate limit feedback, the request id).
const CORS_EXPOSED_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'retry-after', 'x-request-id'];
const PREFLIGHT_HEADERS = ['x-graphql-yoga-csrf', 'graphql-require-preflight', 'apollo-require-preflight'];
const NON_SIMPLE_TYPES = ['application/json', 'application/graphql-response+json', 'application/graphql'];
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export class BodyTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`Request body too large (limit ${limit} bytes)`);
    this.limit = limit;
    this.name = 'BodyTooLargeError';
  }
}

/** The host name of a Host header value (`name:port` or `[v6]:port`), lower-cased, brackets kept. */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d*$/, '');
}

function originOf(value: string): string | null {
  try {
    const url = new URL(value);
    return url.origin === 'null' ? null : url.origin;
  } catch {
    return null;
  }
}

export function createGate(options: GateOptions): Gate {
  const allowed = new Set(options.corsOrigins.map((o) => originOf(o)).filter((o): o is string => o !== null));
  const publicOrigin = options.publicUrl ? originOf(options.publicUrl) : null;
  const publicHost = options.publicUrl ? hostName(new URL(options.publicUrl).host) : null;

  async function check(req: IncomingMessage): Promise<Refusal | null> {
    const host = req.headers.host;
    const hostOk = host !== undefined && (LOOPBACK_NAMES.has(hostName(host)) || hostName(host) === publicHost);
    // Only a bad Host costs the look-up, and only while the server is open.
    if (!hostOk && (await options.isOpen())) {
      return {
        status: 403,
        message: 'Host not allowed: while no API key exists the server answers only to localhost, 127.0.0.1, [::1] and PUBLIC_URL',
      };
    }
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    const parsed = originOf(origin);
    const own = parsed !== null && ((host !== undefined && new URL(parsed).host === host.toLowerCase()) || parsed === publicOrigin);
    if (own || (parsed !== null && allowed.has(parsed))) return null;
    return { status: 403, message: 'Origin not allowed: add it to CORS_ORIGINS to call this server from that web page' };
  }

  function limitFor(req: IncomingMessage): number {
    const path = (req.url ?? '/').split('?')[0];
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    return path === options.graphqlPath && type === 'multipart/form-data' ? options.maxUploadBodyBytes : options.maxBodyBytes;
  }

  return {
    async admit(req, res) {
      const refusal = await check(req);
      if (refusal) {
        req.resume();
        refuse(res, refusal.status, refusal.message);
        return null;
      }
      const origin = req.headers.origin ? originOf(req.headers.origin) : null;
      const cors = origin !== null && allowed.has(origin);
      if (allowed.size > 0) res.setHeader('vary', 'Origin');
      if (cors) res.setHeader('access-control-allow-origin', origin);
      const method = req.method ?? 'GET';
      if (cors && method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': CORS_ALLOWED_HEADERS.join(', '),
          'access-control-max-age': '600',
          'content-length': '0',
        });
        res.end();
        req.resume();
        return null;
      }
      if (cors) res.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
      if (method === 'GET' || method === 'HEAD') return req;

      const limit = limitFor(req);
      if (Number(req.headers['content-length']) > limit) {
        refuseBody(req, res, limit);
        return null;
      }
      return limitedRequest(req, limit, () => {
        if (!res.headersSent) refuseBody(req, res, limit);
        else res.destroy();
      });
    },
    admitUpgrade: check,
  };
}

/**
 * CSRF prevention for GraphQL requests, before their body is read: a POST, PUT or PATCH whose content type a
 * browser may send cross-site without a preflight must carry one of the preflight headers.
 */
export function useCsrfPrevention(graphqlPath: string): Plugin {
  return {
    onRequest(payload) {
      const { request, url } = payload;
      const method = request.method;
      const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
      if (
        url.pathname !== graphqlPath ||
        !(method === 'POST' || method === 'PUT' || method === 'PATCH') ||
        NON_SIMPLE_TYPES.includes(type) ||
        PREFLIGHT_HEADERS.some((h) => request.headers.has(h))
      )
        return;
      // The body is never read: let it flow to nowhere so the connection can carry the answer.
      (payload.serverContext as { req?: IncomingMessage }).req?.resume();
      payload.endResponse(
        refusalResponse(
          403,
          `Cross-site request refused: send a JSON body, or the "${PREFLIGHT_HEADERS[0]}" header with form and multipart requests`,
        ),
      );
    },
  };
}

/**
 * The request as Yoga's Node adapter reads it (headers, method, url, socket), with a body that counts bytes as
 * they arrive. Past the limit it answers (through onOverflow) and fails the read, so nothing downstream ever
 * sees a truncated body as if it were whole; nothing more of the body is kept (see refuseBody).
 */
function limitedRequest(req: IncomingMessage, limit: number, onOverflow: () => void): IncomingMessage {
  async function* body() {
    let seen = 0;
    // destroyOnReturn: false keeps the socket alive long enough to deliver the 413.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (seen > limit) {
        onOverflow();
        throw new BodyTooLargeError(limit);
      }
      yield chunk;
    }
  }
  const iterable = body();
  return {
    headers: req.headers,
    method: req.method,
    url: req.url,
    socket: req.socket,
    [Symbol.asyncIterator]: () => iterable,
  } as unknown as IncomingMessage;
}

// After a 413 the client is usually still sending. Closing at once would make the kernel answer its data with
// a reset, which can destroy the 413 before the client reads it; so the rest is discarded for this long first
// (nginx's "lingering close"). Nothing of it is kept.
const LINGER_MS = 2_000;

/** Answers 413 with `Connection: close`, then discards what still arrives for LINGER_MS and closes. */
function refuseBody(req: IncomingMessage, res: ServerResponse, limit: number) {
  const socket = req.socket;
  // Node's server calls destroySoon() once a `Connection: close` response is written; here it half-closes.
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  // A data listener (not only resume()) so the rest flows to nowhere once the body iterator lets go.
  req.on('data', () => undefined);
  req.resume();
  refuse(res, 413, new BodyTooLargeError(limit).message);
}
