import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/keys.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { launchChromium, servePageOrigin, type PageOrigin } from '../helpers/browser.ts';
import { GENERATE } from '../helpers/graphql.ts';
import { IMAGE } from '../helpers/generation.ts';
import { registerSecret } from '../helpers/secrets.ts';

/**
 * Browser origins in a real Chromium: scripts on pages served from other local origins (other ports on
 * 127.0.0.1) call the API with fetch and WebSocket, as a frontend or a hostile site would.
 */

let browser: Browser;
let allowedPage: PageOrigin;
let otherPage: PageOrigin;
beforeAll(async () => {
  [browser, allowedPage, otherPage] = await Promise.all([launchChromium(), servePageOrigin(), servePageOrigin()]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await allowedPage?.close();
  await otherPage?.close();
});

async function openAt(origin: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  return page;
}

interface FetchOutcome {
  status?: number;
  body?: any;
  error?: string;
}

/** A fetch made by the page's own script (so the browser applies CORS). */
function fetchFromPage(
  page: Page,
  url: string,
  init: { headers: Record<string, string>; body: string; mode?: RequestMode },
): Promise<FetchOutcome> {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const response = await fetch(url, { method: 'POST', ...init });
        if (response.type === 'opaque') return { status: 0 };
        return { status: response.status, body: await response.json() };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { url, init },
  );
}

/** Opens a graphql-ws socket from the page: 'acked' after connection_ack, else how it ended. */
function socketFromPage(page: Page, url: string, key?: string): Promise<string> {
  return page.evaluate(
    ({ url, key }) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(url, 'graphql-transport-ws');
        let opened = false;
        ws.onopen = () => {
          opened = true;
          ws.send(JSON.stringify({ type: 'connection_init', payload: key ? { authorization: `Bearer ${key}` } : {} }));
        };
        ws.onmessage = (event) => {
          if (JSON.parse(String(event.data)).type === 'connection_ack') {
            ws.close();
            resolve('acked');
          }
        };
        ws.onclose = (event) => resolve(opened ? `closed ${event.code}` : 'never opened');
      }),
    { url: url.replace(/^http/, 'ws'), key },
  );
}

const INFO = JSON.stringify({ query: '{ serverInfo { version } }' });

describe('a frontend on another origin, with an API key', () => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startTestServer({ env: { CORS_ORIGINS: allowedPage.origin } });
    key = registerSecret((await createApiKey(server.running.database.prisma, { tenantId: 'web', name: 'frontend' })).key);
  }, 60_000);
  afterAll(() => server?.dispose());

  it('works from an origin in CORS_ORIGINS (preflight, then the request; HTTP and WebSocket)', async () => {
    const page = await openAt(allowedPage.origin);
    const outcome = await fetchFromPage(page, server.url, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: INFO,
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe(200);
    expect(outcome.body.data.serverInfo.version).toBeTruthy();
    expect(await socketFromPage(page, server.url, key)).toBe('acked');
    await page.context().close();
  });

  it('fails from an origin that is not in CORS_ORIGINS, even with the key', async () => {
    const page = await openAt(otherPage.origin);
    const outcome = await fetchFromPage(page, server.url, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: INFO,
    });
    expect(outcome.status).toBeUndefined();
    expect(outcome.error).toMatch(/TypeError/);
    expect(await socketFromPage(page, server.url, key)).toBe('never opened');
    await page.context().close();
  });
});

describe('a foreign page against a server in open mode (no key exists)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  }, 60_000);
  afterAll(() => server?.dispose());

  it('can neither POST generateVideo (with or without a preflight) nor open the WebSocket, and nothing reaches fal', async () => {
    expect(server.logs.some((l) => /AUTH OPEN/.test(l))).toBe(true);
    const page = await openAt(otherPage.origin);
    const mutation = JSON.stringify({ query: GENERATE, variables: { input: { imageUrl: IMAGE, prompt: 'spend their credit' } } });
    const json = await fetchFromPage(page, server.url, { headers: { 'content-type': 'application/json' }, body: mutation });
    expect(json.error).toMatch(/TypeError/);
    // A simple request needs no preflight: the browser sends it, and only the server's Origin check refuses it.
    const simple = await fetchFromPage(page, server.url, { headers: { 'content-type': 'text/plain' }, body: mutation, mode: 'no-cors' });
    expect(simple).toEqual({ status: 0 });
    expect(await socketFromPage(page, server.url)).toBe('never opened');
    expect(server.sim.stats.submits).toBe(0);
    expect(await server.running.database.prisma.generation.count()).toBe(0);
    await page.context().close();
  });
});
