import { createHash, timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import { isLoopback } from '../auth/authenticator.ts';

export interface MetricsRouteOptions {
  registry: Registry;
  /** The server listens on loopback only: whoever can connect is on this machine, so no token is asked for. */
  loopback: boolean;
  /** METRICS_TOKEN; null on a non-loopback bind means /metrics does not exist. */
  token: string | null;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/**
 * GET /metrics in Prometheus' text format. Open on a loopback bind; on any other bind it needs
 * `Authorization: Bearer <METRICS_TOKEN>`, and without METRICS_TOKEN the route does not exist (404, like any
 * unknown path). A missing or wrong token gets 401: the path is documented and no secret, and a scraper that
 * shows "401" tells its operator the token is wrong rather than the URL.
 *
 * "Open on loopback" also asks for a loopback Host header: a web page that rebinds its own DNS name to
 * 127.0.0.1, or a proxy on this machine that forwards a public name, reaches a loopback bind from outside,
 * and those requests follow the non-loopback rule.
 */
export function createMetricsRoute(options: MetricsRouteOptions) {
  // Compared as fixed-length digests in constant time: the comparison reveals neither the token nor its length.
  const expected = options.token ? digest(options.token) : null;
  return async (request: Request): Promise<Response | null> => {
    if (new URL(request.url).pathname !== '/metrics') return null;
    if (!options.loopback || !isLoopback(hostnameOf(request.headers.get('host')))) {
      if (!expected) return json(404, { error: 'not found' });
      const given = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
      if (!given || !timingSafeEqual(digest(given), expected)) {
        return json(
          401,
          { error: 'a valid metrics token is required (Authorization: Bearer <METRICS_TOKEN>)' },
          { 'www-authenticate': 'Bearer realm="metrics"' },
        );
      }
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'use GET' }, { allow: 'GET, HEAD' });
    const body = await options.registry.metrics();
    return new Response(request.method === 'HEAD' ? null : body, {
      status: 200,
      headers: { 'content-type': options.registry.contentType, 'cache-control': 'no-store' },
    });
  };
}

/** The name part of a Host header ("127.0.0.1:4000" -> "127.0.0.1", "[::1]:4000" -> "[::1]"). */
function hostnameOf(host: string | null): string {
  if (!host) return '';
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
}
