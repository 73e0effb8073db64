import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiKey } from '../../src/auth/keys.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { GENERATE } from '../helpers/graphql.ts';
import { IMAGE } from '../helpers/generation.ts';
import { registerSecret } from '../helpers/secrets.ts';

/**
 * The origin rules (issue 13 part 1) at the header level: Host in open mode (DNS rebinding), Origin in every
 * mode (HTTP, SSE and the WebSocket upgrade), and CORS for the origins in CORS_ORIGINS only.
 */

const ALLOWED = 'http://app.example.test:5173';
const FOREIGN = 'https://evil.example.test';
const PUBLIC = 'https://video.example.test';
const INFO = JSON.stringify({ query: '{ serverInfo { version } }' });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch may not set Host), with whatever headers a browser or an attacker sends. */
function send(url: string, options: { method?: string; path?: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'POST',
        path: options.path ?? target.pathname,
        headers: { 'content-type': 'application/json', ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body ?? (options.method === 'GET' || options.method === 'OPTIONS' ? undefined : INFO));
  });
}

/** Opens a WebSocket upgrade with the given headers: 'open', or the HTTP status that refused it. */
function upgrade(url: string, headers: Record<string, string>): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

const corsHeaders = (answer: Answer) => Object.keys(answer.headers).filter((h) => h.startsWith('access-control-'));

describe('CORS_ORIGINS', () => {
  it('takes exact origins only (no wildcard, no path), and defaults to none', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: 'https://App.example.com/, http://localhost:5173' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
    for (const bad of ['*', 'https://*.example.com', 'https://app.example.com/path', 'app.example.com', 'null']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
      try {
        loadConfig({ CORS_ORIGINS: bad });
      } catch (error) {
        expect((error as ConfigError).message).toMatch(/CORS_ORIGINS/);
      }
    }
  });
});

describe('origin rules', () => {
  let server: TestServer;
  let own: string;
  let host: string;
  beforeAll(async () => {
    server = await startTestServer({ env: { CORS_ORIGINS: `${ALLOWED}, http://localhost:5174`, PUBLIC_URL: PUBLIC } });
    own = new URL(server.url).origin;
    host = new URL(server.url).host;
  }, 60_000);
  afterAll(() => server?.dispose());

  describe('open mode (no key exists, loopback)', () => {
    it("refuses a Host that is neither a loopback name nor PUBLIC_URL's host, on every route and the WebSocket", async () => {
      for (const bad of ['evil.example.test', 'evil.example.test:4000', '127.0.0.1.nip.io', 'localhost.evil.test', '10.0.0.1']) {
        for (const [method, path] of [
          ['POST', '/graphql'],
          ['GET', '/healthz'],
          ['GET', '/'],
          ['POST', '/webhooks/fal'],
        ]) {
          const answer = await send(server.url, { method, path, headers: { host: bad } });
          expect(answer.status, `${method} ${path} Host ${bad}`).toBe(403);
          expect(JSON.parse(answer.body).errors[0].message).toMatch(/Host not allowed/);
        }
        expect(await upgrade(server.url, { host: bad })).toBe(403);
      }
      for (const good of [
        'localhost',
        'localhost:9999',
        '127.0.0.1',
        '127.0.0.1:1',
        '[::1]',
        '[::1]:4000',
        'LOCALHOST:1',
        'video.example.test',
        host,
      ]) {
        const answer = await send(server.url, { headers: { host: good } });
        expect(answer.status, `Host ${good}`).toBe(200);
        expect(JSON.parse(answer.body).data.serverInfo.version).toBeTruthy();
      }
      expect(await upgrade(server.url, { host: 'localhost:1' })).toBe('open');
    });

    it('refuses a foreign Origin with 403 before anything runs (HTTP, simple POSTs, SSE, WebSocket), with no CORS headers', async () => {
      const submitsBefore = server.sim.stats.submits;
      const mutation = JSON.stringify({ query: GENERATE, variables: { input: { imageUrl: IMAGE, prompt: 'should never run' } } });
      const attempts: Answer[] = [
        await send(server.url, { headers: { origin: FOREIGN }, body: mutation }),
        // A "simple" request: no preflight in a browser, so only the Origin check stands in its way.
        await send(server.url, { headers: { origin: FOREIGN, 'content-type': 'text/plain', 'x-graphql-yoga-csrf': '1' }, body: mutation }),
        await send(server.url, {
          headers: { origin: FOREIGN, accept: 'text/event-stream' },
          body: JSON.stringify({ query: 'subscription { videoGenerationUpdated { id } }' }),
        }),
        await send(server.url, {
          method: 'GET',
          path: `/graphql?query=${encodeURIComponent('{ serverInfo { version } }')}`,
          headers: { origin: FOREIGN },
        }),
        await send(server.url, {
          method: 'OPTIONS',
          headers: { origin: FOREIGN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        }),
        await send(server.url, { headers: { origin: 'null' }, body: mutation }),
        await send(server.url, { headers: { origin: `${own}.evil.test` }, body: mutation }),
      ];
      for (const answer of attempts) {
        expect(answer.status).toBe(403);
        expect(JSON.parse(answer.body).errors[0].message).toMatch(/Origin not allowed/);
        expect(corsHeaders(answer)).toEqual([]);
      }
      expect(await upgrade(server.url, { origin: FOREIGN })).toBe(403);
      expect(await upgrade(server.url, { origin: 'null' })).toBe(403);
      expect(server.sim.stats.submits).toBe(submitsBefore);
    });

    it('serves our own origin (the Host, or PUBLIC_URL), the CORS_ORIGINS, and requests without an Origin', async () => {
      for (const origin of [own, PUBLIC, undefined]) {
        const answer = await send(server.url, { headers: origin ? { origin } : {} });
        expect(answer.status, String(origin)).toBe(200);
        // Same-origin needs no CORS headers, and gets none.
        expect(answer.headers['access-control-allow-origin']).toBeUndefined();
      }
      expect(await upgrade(server.url, { origin: own })).toBe('open');
      expect(await upgrade(server.url, { origin: ALLOWED })).toBe('open');
      const cors = await send(server.url, { headers: { origin: ALLOWED } });
      expect(cors.status).toBe(200);
      expect(cors.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(cors.headers['access-control-allow-credentials']).toBeUndefined();
      expect(String(cors.headers.vary)).toMatch(/Origin/i);
      // The dashboard and its assets, same origin.
      expect((await send(server.url, { method: 'GET', path: '/', headers: { origin: own } })).status).toBe(200);
    });
  });

  describe('once a key exists', () => {
    let key: string;
    beforeAll(async () => {
      key = registerSecret((await createApiKey(server.running.database.prisma, { tenantId: 'acme', name: 'browser' })).key);
    });

    it('answers a preflight from an allowed origin with 204 and no key; nothing for any other origin', async () => {
      const preflight = await send(server.url, {
        method: 'OPTIONS',
        headers: {
          origin: ALLOWED,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type, x-request-id',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(String(preflight.headers.vary)).toMatch(/Origin/i);
      const allowedHeaders = String(preflight.headers['access-control-allow-headers'])
        .toLowerCase()
        .split(/\s*,\s*/);
      for (const h of ['authorization', 'content-type', 'x-graphql-yoga-csrf', 'graphql-require-preflight', 'x-request-id'])
        expect(allowedHeaders).toContain(h);
      expect(String(preflight.headers['access-control-allow-methods'])).toMatch(/POST/);
      expect(preflight.headers['access-control-allow-origin']).not.toBe('*');

      const second = await send(server.url, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5174', 'access-control-request-method': 'POST' },
      });
      expect(second.headers['access-control-allow-origin']).toBe('http://localhost:5174');

      const foreign = await send(server.url, { method: 'OPTIONS', headers: { origin: FOREIGN, 'access-control-request-method': 'POST' } });
      expect(foreign.status).toBe(403);
      expect(corsHeaders(foreign)).toEqual([]);
    });

    it('actual responses to an allowed origin carry its Access-Control-Allow-Origin (also a 401, so the page can read it)', async () => {
      const ok = await send(server.url, { headers: { origin: ALLOWED, authorization: `Bearer ${key}` } });
      expect(ok.status).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(JSON.parse(ok.body).data.serverInfo.version).toBeTruthy();
      const missing = await send(server.url, { headers: { origin: ALLOWED } });
      expect(missing.status).toBe(401);
      expect(missing.headers['access-control-allow-origin']).toBe(ALLOWED);
      // A foreign origin is refused even with a valid key.
      expect((await send(server.url, { headers: { origin: FOREIGN, authorization: `Bearer ${key}` } })).status).toBe(403);
      expect(await upgrade(server.url, { origin: FOREIGN })).toBe(403);
    });

    it('no longer checks the Host (keys protect the server; a proxy may use any name)', async () => {
      const answer = await send(server.url, { headers: { host: 'api.internal.test', authorization: `Bearer ${key}` } });
      expect(answer.status).toBe(200);
      expect((await send(server.url, { headers: { host: 'api.internal.test' } })).status).toBe(401);
    });
  });
});
