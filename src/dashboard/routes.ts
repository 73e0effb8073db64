import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as nodeModule from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The live dashboard: GET `/` is the page, `/dashboard/*` its assets. No bundler and no build step: the page's
 * TypeScript modules (src/dashboard/web, the codegen output in src/client, two helpers of src/lib) are served as JavaScript by
 * stripping their types on the way out (Node's own `stripTypeScriptTypes`, the same transform Node applies when
 * it runs them; types are replaced by spaces so line numbers stay right), and the two libraries the browser needs
 * (graphql-ws's browser client, graphql's printer) are served from node_modules. Only files under fixed folders
 * and with fixed extensions are served, so no request can reach anything else on disk.
 */

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// graphql-ws exposes no package.json; its CommonJS entry sits in the same dist folder as the browser ESM build.
const GRAPHQL_WS_DIST = dirname(require.resolve('graphql-ws'));
const GRAPHQL_ROOT = dirname(require.resolve('graphql'));

/** URL prefix -> folder, and the file names allowed in it. */
const MOUNTS: Array<{ prefix: string; dir: string; name: RegExp; kind: 'ts' | 'js' }> = [
  { prefix: '/dashboard/src/dashboard/web/', dir: join(SRC, 'dashboard', 'web'), name: /^[\w-]+\.ts$/, kind: 'ts' },
  { prefix: '/dashboard/src/client/gql/', dir: join(SRC, 'client', 'gql'), name: /^[\w-]+\.ts$/, kind: 'ts' },
  { prefix: '/dashboard/src/client/', dir: join(SRC, 'client'), name: /^[\w-]+\.ts$/, kind: 'ts' },
  // Only the small browser-safe helpers the page shares with the server, never the rest of src/lib.
  { prefix: '/dashboard/src/lib/', dir: join(SRC, 'lib'), name: /^(backoff|errors)\.ts$/, kind: 'ts' },
  { prefix: '/dashboard/vendor/graphql-ws/', dir: GRAPHQL_WS_DIST, name: /^[\w-]+\.js$/, kind: 'js' },
  { prefix: '/dashboard/vendor/graphql/language/', dir: join(GRAPHQL_ROOT, 'language'), name: /^[\w-]+\.mjs$/, kind: 'js' },
  { prefix: '/dashboard/vendor/graphql/jsutils/', dir: join(GRAPHQL_ROOT, 'jsutils'), name: /^[\w-]+\.mjs$/, kind: 'js' },
];

/** Bare specifiers the page's modules import, resolved by the import map (the page's only inline script). */
const IMPORT_MAP = JSON.stringify({
  imports: {
    'graphql-ws': '/dashboard/vendor/graphql-ws/client.js',
    'graphql/language/printer.js': '/dashboard/vendor/graphql/language/printer.mjs',
  },
});
const IMPORT_MAP_HASH = `sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}`;

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export interface DashboardOptions {
  /**
   * Origins start frames may be shown from besides https: ones (the simulator's, on plain http, whose uploaded
   * files are the frames' URLs in simulator mode).
   */
  imageOrigins?: readonly string[];
}

function contentSecurityPolicy(host: string | null, imageOrigins: readonly string[]): string {
  // Chromium treats 'self' as covering ws(s): of the same host, older engines did not; naming them costs nothing.
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    `script-src 'self' '${IMPORT_MAP_HASH}'`,
    "style-src 'self'",
    // Start frames are wherever the user's URL or fal's storage put them (uploads are data:, or fal CDN URLs): any
    // https: image. An image cannot run script, and referrer-policy no-referrer keeps the page's URL from its host.
    ['img-src', "'self'", 'data:', 'blob:', 'https:', ...imageOrigins].join(' '),
    "media-src 'self'",
    `connect-src 'self'${sockets}`,
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const cache = new Map<string, { mtimeMs: number; body: string }>();

async function transformed(file: string, kind: 'ts' | 'js'): Promise<string | null> {
  let mtimeMs: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) return null;
    mtimeMs = info.mtimeMs;
  } catch {
    return null;
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.body;
  const source = await readFile(file, 'utf8');
  const body = kind === 'ts' ? stripTypes(source) : source;
  cache.set(file, { mtimeMs, body });
  return body;
}

// Experimental in Node 24 (it prints one ExperimentalWarning on first use); reached through the namespace so
// the file still loads if a future Node moves it.
function stripTypes(source: string): string {
  const strip = (nodeModule as unknown as { stripTypeScriptTypes?: (code: string, options?: { mode?: 'strip' }) => string })
    .stripTypeScriptTypes;
  if (!strip) throw new Error('node:module stripTypeScriptTypes is not available (Node 22.13+ or 23.2+ required)');
  return strip(source, { mode: 'strip' });
}

async function staticFile(name: string, type: string): Promise<Response> {
  const body = await readFile(join(SRC, 'dashboard', name), 'utf8');
  return new Response(body, { headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' } });
}

export function createDashboardRoutes(options: DashboardOptions = {}): (request: Request) => Promise<Response | null> {
  const imageOrigins = (options.imageOrigins ?? []).map((origin) => new URL(origin).origin);
  return async (request) => {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path !== '/' && path !== '/index.html' && !path.startsWith('/dashboard/')) return null;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response('use GET\n', { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain' } });
    }
    if (path === '/' || path === '/index.html') {
      // The whole script body is replaced, whitespace included: the CSP hash covers exactly IMPORT_MAP, and a
      // formatter is free to indent the placeholder.
      const html = (await readFile(join(SRC, 'dashboard', 'index.html'), 'utf8')).replace(
        /(<script type="importmap">)[\s\S]*?(<\/script>)/,
        (_match, open: string, close: string) => `${open}${IMPORT_MAP}${close}`,
      );
      return new Response(html, {
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': contentSecurityPolicy(request.headers.get('host'), imageOrigins),
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        },
      });
    }
    if (path === '/dashboard/style.css') return staticFile('style.css', 'text/css; charset=utf-8');
    for (const mount of MOUNTS) {
      if (!path.startsWith(mount.prefix)) continue;
      const name = path.slice(mount.prefix.length);
      if (!mount.name.test(name)) continue;
      const file = join(mount.dir, name);
      if (!file.startsWith(mount.dir + sep)) break;
      const body = await transformed(file, mount.kind);
      if (body === null) break;
      return new Response(body, {
        headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' },
      });
    }
    return new Response('not found\n', { status: 404, headers: { 'content-type': 'text/plain' } });
  };
}

/** `routes` first (webhooks, videos, health), then the dashboard's paths; for the composition root. */
export function withDashboard(
  routes: (request: Request) => Promise<Response | null> | Response | null,
  options: DashboardOptions = {},
): (request: Request) => Promise<Response | null> {
  const dashboard = createDashboardRoutes(options);
  return async (request) => (await routes(request)) ?? dashboard(request);
}
