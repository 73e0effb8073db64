import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page, type Request as PwRequest } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { generateOk, IMAGE, rawGenerationId, readGeneration } from '../helpers/generation.ts';
import { gql } from '../helpers/graphql.ts';
import { createApiKey } from '../../src/auth/keys.ts';

/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against a real
 * server and the fal simulator: everything the page does goes through its own GraphQL documents, HTTP and
 * graphql-ws, as a user's browser would.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// playwright adds --headless and a fresh temporary --user-data-dir per launch; the rest keeps Chromium offline.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
// A 1x1 PNG: the start frame uploaded through the file input.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let server: TestServer;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer({ behaviour: { queuePosition: 2, logCount: 3 } });
  origin = new URL(server.url).origin;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.dispose();
});

/**
 * A page whose console errors, page errors and CSP violations are collected (the test fails on any). Start frames
 * at https://example.com (the tests' IMAGE) are answered with a PNG by the browser context, as the internet is
 * not reachable here; the page's Content-Security-Policy still decides whether they may load.
 */
async function openDashboard(
  options: { width?: number; live?: boolean } = {},
): Promise<{ page: Page; problems: string[]; graphqlRequests: PwRequest[]; wsFrames: string[] }> {
  const width = options.width ?? 1280;
  const context = await browser.newContext({ viewport: { width, height: width < 500 ? 844 : 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  await context.route('https://example.com/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: PNG }));
  const page = await context.newPage();
  const problems: string[] = [];
  const graphqlRequests: PwRequest[] = [];
  const wsFrames: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/graphql') graphqlRequests.push(request);
  });
  page.on('websocket', (ws) => ws.on('framesent', (frame) => wsFrames.push(String(frame.payload))));
  await page.goto(`${origin}/`);
  await page.locator('body[data-ready="true"]').waitFor();
  if (options.live !== false) await page.locator('#connection[data-state="live"]').waitFor();
  return { page, problems, graphqlRequests, wsFrames };
}

/** Whether every start frame in `scope` has loaded (an <img> with pixels, not the "no preview" placeholder). */
async function framesLoaded(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).evaluateAll((images) => images.length > 0 && images.every((i) => (i as HTMLImageElement).naturalWidth > 0));
}

/** Nothing wider than the viewport: the page does not scroll sideways and no element in the cards sticks out. */
async function overflow(page: Page): Promise<{ scrollWidth: number; widest: string[] }> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const widest = [...document.querySelectorAll('#list *, #detail *, #submit *, header *')]
      .filter((e) => {
        const box = e.getBoundingClientRect();
        // Out of the viewport, or out of its own card.
        const card = e.closest('section, header')?.getBoundingClientRect();
        const limit = Math.min(width, card?.right ?? width);
        return box.width > 0 && (box.right > limit + 0.5 || box.left < -0.5);
      })
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`);
    return { scrollWidth: document.documentElement.scrollWidth, widest };
  });
}

function row(page: Page, id: string) {
  return page.locator(`#rows tr[data-id="${id}"]`);
}

/** Submits the form and returns the new generation's id (the page shows it in the detail view). */
async function submitForm(page: Page, fill: () => Promise<void>): Promise<string> {
  const before = await page.locator('#rows tr').count();
  await fill();
  await page.locator('#generate').click();
  await expect.poll(() => page.locator('#rows tr').count()).toBe(before + 1);
  await page.locator('#submit-result[data-kind="ok"]').waitFor();
  const id = await page.locator('#submit-result').getAttribute('data-generation-id');
  expect(id).toBeTruthy();
  return id as string;
}

describe('dashboard', () => {
  it('serves the page with a strict Content-Security-Policy and its TypeScript modules as JavaScript', async () => {
    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain(`connect-src 'self' ws://${new URL(origin).host}`);
    // The import map is the page's only inline script, and the CSP's hash is exactly its body's.
    const html = await page.text();
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(importMap).toContain('"graphql-ws":"/dashboard/vendor/graphql-ws/client.js"');
    expect(csp).toContain(`'sha256-${createHash('sha256').update(importMap).digest('base64')}'`);
    // Start frames may be on any https host (fal storage, the user's URL) or data: URLs, and in simulator mode on
    // the simulator's origin (its uploads); nothing else.
    expect(csp).toContain(`img-src 'self' data: blob: https: ${new URL(server.sim.url).origin}`);

    const module = await fetch(`${origin}/dashboard/src/dashboard/web/api.ts`);
    expect(module.headers.get('content-type')).toMatch(/^text\/javascript/);
    const js = await module.text();
    expect(js).not.toMatch(/import type|: Promise<R>/);
    const generated = await fetch(`${origin}/dashboard/src/client/gql/graphql.ts`);
    expect(await generated.text()).toContain('DashboardGenerateDocument');
    expect((await fetch(`${origin}/dashboard/vendor/graphql-ws/client.js`)).status).toBe(200);
    expect(await (await fetch(`${origin}/dashboard/src/lib/backoff.ts`)).text()).toContain('export function backoffDelay');

    // Only the allow-listed folders and extensions: no way out to the rest of the disk.
    for (const path of [
      '/dashboard/src/dashboard/routes.ts',
      '/dashboard/src/dashboard/web/..%2F..%2Fapp.ts',
      '/dashboard/vendor/graphql-ws/../package.json',
      '/dashboard/src/client/gql/missing.ts',
      '/dashboard/src/lib/dir-lock.ts',
      '/dashboard/src/lib/../config.ts',
    ]) {
      expect((await fetch(`${origin}${path}`)).status, path).toBe(404);
    }
    expect(
      (
        await fetch(`${origin}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"query":"{__typename}"}',
        })
      ).status,
    ).toBe(200);
  });

  it('submits with a file, follows the row from IN_QUEUE to COMPLETED, plays the video and cancels a queued one', async () => {
    const { page, problems, graphqlRequests } = await openDashboard();
    await page.locator('#simulator-banner').waitFor({ state: 'visible' });
    // Nothing yet: the empty state says what to do.
    await expect.poll(() => page.locator('#empty').textContent()).toMatch(/No generations yet\. Submit one with the form/);
    expect(await page.locator('#empty').isVisible()).toBe(true);
    await mkdir(ARTIFACTS, { recursive: true });

    // Held at IN_QUEUE until resumed, so the page is seen showing the queued state before completion.
    server.sim.configure({ pauseBefore: 'IN_PROGRESS' });
    const first = await submitForm(page, async () => {
      await page.locator('input[name="start-source"][value="file"]').check();
      await page.locator('#start-file').setInputFiles({ name: 'start.png', mimeType: 'image/png', buffer: PNG });
      await page.locator('input[name="end-source"][value="file"]').check();
      await page.locator('#end-file').setInputFiles({ name: 'end.png', mimeType: 'image/png', buffer: PNG });
      await page.locator('#prompt').fill('A paper boat drifts down a rainy street.');
      await page.locator('#duration').selectOption('5');
    });
    // Every HTTP request carries the CSRF header; the file went as a GraphQL multipart request.
    const posts = graphqlRequests.filter((r) => r.method() === 'POST');
    expect(posts.map((r) => r.headers()['x-graphql-yoga-csrf'])).toEqual(posts.map(() => 'reelgraph'));
    expect(posts.some((r) => r.headers()['content-type']?.startsWith('multipart/form-data'))).toBe(true);
    expect(server.sim.stats.uploads).toBe(2);

    await row(page, first).and(page.locator('[data-status="IN_QUEUE"]')).waitFor();
    await expect.poll(() => row(page, first).locator('.queue').textContent()).toMatch(/^\d+$/);
    // A running generation has a progress bar; its start frame (uploaded to fal storage) is its thumbnail.
    expect(await row(page, first).locator('progress.progress').count()).toBe(1);
    await expect.poll(() => framesLoaded(page, `#rows tr[data-id="${first}"] img.thumb-img`)).toBe(true);
    // Short ids on screen (the UUID's last 8 characters), the full id one click away.
    expect(await row(page, first).locator('.short-id').textContent()).toBe(rawGenerationId(first).slice(-8));
    await row(page, first).locator('button.copy-id').click();
    await row(page, first).locator('button.copy-id[data-copied="clipboard"]').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first);
    expect(await page.locator('#detail-full-id').inputValue()).toBe(first);
    const { falRequestId } = await readGeneration(server, first);
    server.sim.resume(falRequestId);
    await row(page, first).and(page.locator('[data-status="COMPLETED"]')).waitFor({ timeout: 20_000 });
    expect(await row(page, first).locator('.elapsed').textContent()).toMatch(/^\d+\.\d s$|^\d+:\d\d$/);

    // The detail view (opened on submit) streamed the log and shows the archived video, which plays.
    await page.locator(`#detail[data-id="${first}"][data-status="COMPLETED"]`).waitFor();
    await expect.poll(() => page.locator('#detail-log li').count()).toBeGreaterThanOrEqual(3);
    const video = page.locator('#detail-player video');
    await video.waitFor({ timeout: 20_000 });
    expect(await video.getAttribute('src')).toMatch(new RegExp(`^${origin}/videos/`));
    await video.evaluate((v: HTMLVideoElement) => {
      v.muted = true;
      return v.play();
    });
    await page.waitForFunction(() => (document.querySelector('#detail-player video') as HTMLVideoElement).currentTime > 0, undefined, {
      timeout: 15_000,
    });
    await expect.poll(() => framesLoaded(page, '#detail-thumb img.detail-img')).toBe(true);
    expect(await row(page, first).locator('progress').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-completed.png'), fullPage: true });

    // A second one stays queued (still paused) and is cancelled from its row.
    const second = await submitForm(page, async () => {
      await page.locator('input[name="start-source"][value="url"]').check();
      await page.locator('#start-url').fill(IMAGE);
      await page.locator('input[name="end-source"][value="url"]').check();
      await page.locator('input[name="prompt-mode"][value="shots"]').check();
      await page.locator('#shot-list li input[type="text"]').first().fill('Wide shot of the harbour.');
      await page.locator('#add-shot').click();
      await page.locator('#shot-list li input[type="text"]').nth(1).fill('Close-up of a gull.');
      await page.locator('#shot-list li input[type="number"]').nth(1).fill('2');
    });
    await row(page, second).and(page.locator('[data-status="IN_QUEUE"]')).waitFor();
    await row(page, second).locator('button.cancel').click();
    await row(page, second).and(page.locator('[data-status="CANCELLED"]')).waitFor();
    expect(await row(page, second).locator('button.cancel').count()).toBe(0);
    expect((await readGeneration(server, second)).status).toBe('CANCELLED');
    server.sim.configure({ pauseBefore: undefined });

    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cancelled.png'), fullPage: true });

    // One click on a finished generation submits the same input again, as a new generation.
    const before = await page.locator('#rows tr').count();
    await row(page, first).locator('button.again').click();
    await expect.poll(() => page.locator('#rows tr').count()).toBe(before + 1);
    await expect.poll(() => page.locator('#submit-result').getAttribute('data-generation-id')).not.toBe(second);
    const again = (await page.locator('#submit-result').getAttribute('data-generation-id')) as string;
    expect(again).not.toBe(first);
    await row(page, again).and(page.locator('[data-status="COMPLETED"]')).waitFor({ timeout: 20_000 });
    const inputs = `query($id: ID!) { videoGeneration(id: $id) { imageUrl endImageUrl prompt duration generateAudio } }`;
    const [original, copy] = await Promise.all(
      [first, again].map(async (id) => (await gql(server.url, inputs, { id })).data.videoGeneration as Record<string, unknown>),
    );
    expect(copy).toEqual(original);
    expect(server.sim.stats.uploads).toBe(2);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('filters by status, pages with "load more", and fits a 390 px phone screen (cards, no horizontal overflow)', async () => {
    // More than a page (20) of finished generations, one with a long unbroken prompt, and one held in the queue.
    // 4 s: a (model, duration, audio) key no other test used, so the progress medians are first read with these
    // 21 finished samples in the database (the server caches them for a few seconds).
    const long = await generateOk(server, { duration: 4, prompt: `A-very-long-unbroken-prompt-${'x'.repeat(300)}` });
    for (let i = 1; i < 21; i += 1) await generateOk(server, { duration: 4, prompt: `Harbour scene number ${i}` });
    server.sim.configure({ pauseBefore: 'IN_PROGRESS' });
    const queued = await generateOk(server, { duration: 4, prompt: 'A lighthouse at dusk, held in the queue.' });
    const all = await gql(server.url, '{ videoGenerations(first: 100) { edges { node { id status } } } }');
    const nodes = all.data.videoGenerations.edges.map((e: { node: { id: string; status: string } }) => e.node);
    await expect
      .poll(async () => {
        const now = await gql(
          server.url,
          '{ videoGenerations(first: 100, filter: { status: [IN_QUEUE, IN_PROGRESS] }) { edges { node { id } } } }',
        );
        return now.data.videoGenerations.edges.length;
      })
      .toBe(1);

    for (const width of [1280, 390]) {
      const { page, problems } = await openDashboard({ width });
      await expect.poll(() => page.locator('#rows tr').count()).toBe(20);
      // The queued one has a progress bar (estimated from the finished ones) with its ETA next to it.
      const bar = row(page, queued.id).locator('progress.progress');
      await bar.waitFor();
      // The server may still answer from medians it cached (for a few seconds) before these samples existed: until
      // it estimates, the bar is indeterminate and re-reading the list (Search) asks again.
      await expect
        .poll(
          async () => {
            if ((await bar.getAttribute('value')) === null) await page.locator('#filter-form button[type="submit"]').click();
            return bar.getAttribute('value');
          },
          { timeout: 20_000 },
        )
        .not.toBeNull();
      const value = Number(await bar.getAttribute('value'));
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThan(1);
      expect(await row(page, queued.id).locator('.eta').textContent()).toMatch(/^ETA \d/);
      await page.locator('#load-more').waitFor();
      await page.locator('#load-more').click();
      await expect.poll(() => page.locator('#rows tr').count()).toBe(Math.min(40, nodes.length));
      while (await page.locator('#load-more').isVisible()) {
        const shown = await page.locator('#rows tr').count();
        await page.locator('#load-more').click();
        await expect.poll(() => page.locator('#rows tr').count()).toBeGreaterThan(shown);
      }
      // Every id once, newest first, as the server lists them (polled: a reload may redraw the rows meanwhile).
      await expect
        .poll(() => page.locator('#rows tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.id)))
        .toEqual(nodes.map((n: { id: string }) => n.id));
      await expect.poll(() => framesLoaded(page, '#rows img.thumb-img')).toBe(true);
      expect(await page.locator('#rows td.thumb > *').count()).toBe(nodes.length);

      await page.locator('#rows').evaluate((body) => body.scrollIntoView());
      const shot = width === 390 ? 'dashboard-390.png' : 'dashboard-1280.png';
      await page.screenshot({ path: join(ARTIFACTS, shot), fullPage: true });
      const fit = await overflow(page);
      expect(fit.scrollWidth).toBeLessThanOrEqual(width);
      expect(fit.widest).toEqual([]);

      // The detail of a finished one: thumbnail, short id, generate again, and still no overflow on a phone.
      await row(page, long.id).locator('button.open').click();
      await page.locator(`#detail[data-id="${long.id}"]`).waitFor();
      await page.locator('#detail-again').waitFor({ state: 'visible' });
      await expect.poll(() => framesLoaded(page, '#detail-thumb img.detail-img')).toBe(true);
      await page.locator('#detail').evaluate((detail) => detail.scrollIntoView());
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-detail-${width}.png`), fullPage: true });
      const detailFit = await overflow(page);
      expect(detailFit.scrollWidth).toBeLessThanOrEqual(width);
      expect(detailFit.widest).toEqual([]);
      // Search (prompts and shot prompts, whole words, any case), paged like the full list.
      await page.locator('#search').fill('harbour');
      await page.locator('#filter-form button[type="submit"]').click();
      await expect.poll(() => page.locator('#rows tr').count()).toBe(20);
      await page.locator('#load-more').click();
      // 20 "Harbour scene" ones and the shots "Wide shot of the harbour." from the test above.
      await expect.poll(() => page.locator('#rows tr').count()).toBe(21);
      expect(await page.locator('#load-more').isVisible()).toBe(false);
      await page.locator('#search').fill('lighthouse');
      await page.locator('#search').press('Enter');
      await expect.poll(() => page.locator('#rows tr').count()).toBe(1);
      expect(await page.locator('#rows tr').getAttribute('data-id')).toBe(queued.id);
      // A search the server refuses (over 200 characters, past the box's maxlength): the error says what to do,
      // and Retry with a fixed search lists again.
      await page.locator('#search').evaluate((input: HTMLInputElement) => (input.value = 'word '.repeat(50)));
      await page.locator('#search').press('Enter');
      await page.locator('#list-error').waitFor({ state: 'visible' });
      expect(await page.locator('#list-error-text').textContent()).toMatch(/search.*at most 200 characters.*then retry/s);
      await page.locator('#search').fill('');
      await page.locator('#list-retry').click();
      await page.locator('#list-error').waitFor({ state: 'hidden' });
      await expect.poll(() => page.locator('#rows tr').count()).toBe(20);

      // Status filter: only the queued one; then nothing finished-and-queued matches, and the empty state says why.
      await page.locator('#status-filter').selectOption('active');
      await expect.poll(() => page.locator('#rows tr').count()).toBe(1);
      expect(await page.locator('#rows tr').getAttribute('data-id')).toBe(queued.id);
      expect(await page.locator('#load-more').isVisible()).toBe(false);
      await page.locator('#status-filter').selectOption('FAILED');
      await expect.poll(() => page.locator('#rows tr').count()).toBe(0);
      await page.locator('#empty').waitFor({ state: 'visible' });
      expect(await page.locator('#empty').textContent()).toMatch(/No generations match this filter/);
      await page.locator('#status-filter').selectOption('COMPLETED');
      // The unfiltered list also had 20 rows: wait for the filtered page itself (20 rows, every one COMPLETED),
      // not just for the count, which the old page already matched while the new one was being drawn.
      const statuses = () => page.locator('#rows tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.status));
      await expect
        .poll(async () => {
          const seen = await statuses();
          return { rows: seen.length, statuses: [...new Set(seen)] };
        })
        .toEqual({ rows: 20, statuses: ['COMPLETED'] });

      expect(problems).toEqual([]);
      await page.context().close();
    }
    server.sim.resume((await readGeneration(server, queued.id)).falRequestId);
    server.sim.configure({ pauseBefore: undefined });
  }, 120_000);

  // Last: once an API key exists the server is no longer open, which the tests above rely on.
  it('shows validation errors, and with API keys: refuses a bad key, works with a good one, asks for a missing one', async () => {
    const { page, problems, graphqlRequests, wsFrames } = await openDashboard();
    await page.locator('#start-url').fill('not a url');
    await page.locator('#prompt').fill('x');
    await page.locator('#generate').click();
    await page.locator('#submit-result[data-kind="error"]').waitFor();
    expect(await page.locator('#submit-result').textContent()).toContain('imageUrl');

    const useKey = async (key: string) => {
      await page.locator('#api-key').fill(key);
      await page.locator('#key-form button').click();
    };
    const banner = page.locator('#auth-banner');

    await useKey('rg_not_a_real_key');
    await page.locator('#connection[data-state="rejected"]').waitFor();
    await banner.waitFor({ state: 'visible' });
    expect(await banner.textContent()).toMatch(/API key invalid/);

    const { key } = await createApiKey(server.running.database.prisma, { tenantId: 'dashboard', name: 'browser' });
    await useKey(key);
    await page.locator('#connection[data-state="live"]').waitFor();
    await banner.waitFor({ state: 'hidden' });
    expect(wsFrames.some((f) => f.includes('connection_init') && f.includes(`Bearer ${key}`))).toBe(true);
    await expect.poll(() => graphqlRequests.some((r) => r.headers().authorization === `Bearer ${key}`)).toBe(true);
    expect(await page.evaluate(() => localStorage.getItem('reelgraph.apiKey'))).toBe(key);
    // The key's tenant has no generations: the table shows only what the key may see.
    await expect.poll(() => page.locator('#rows tr').count()).toBe(0);

    await useKey('');
    await page.locator('#connection[data-state="rejected"]').waitFor();
    await banner.waitFor({ state: 'visible' });
    expect(await banner.textContent()).toMatch(/API key required/);

    expect(problems.filter((p) => !/^HTTP 401 for .*\/graphql$/.test(p))).toEqual([]);
    await page.context().close();

    // A first visit without a key to a server that needs one: the simulator banner and "API key required" are
    // shown at once (from the public serverInfo), and the page says how to get a key.
    const fresh = await openDashboard({ live: false, width: 390 });
    await fresh.page.locator('body[data-auth-required="true"][data-backend="SIMULATOR"]').waitFor();
    await fresh.page.locator('#simulator-banner').waitFor({ state: 'visible' });
    const required = fresh.page.locator('#auth-banner');
    await required.waitFor({ state: 'visible' });
    expect(await required.textContent()).toMatch(/API key required/);
    await fresh.page.locator('#connection[data-state="rejected"]').waitFor();
    expect(await fresh.page.locator('#connection').textContent()).toBe('API key required');
    expect(await required.textContent()).toMatch(/API key required.*npm run keys -- create/);
    expect(await fresh.page.locator('#rows tr').count()).toBe(0);
    await expect.poll(() => fresh.page.locator('#empty').textContent()).toBe('Enter an API key above to see your generations.');
    const fit = await overflow(fresh.page);
    expect(fit.scrollWidth).toBeLessThanOrEqual(390);
    await fresh.page.screenshot({ path: join(ARTIFACTS, 'dashboard-auth-required-390.png'), fullPage: true });
    // The keyless requests were the public serverInfo GET (answered) and the refused ones (401), nothing else.
    expect(fresh.problems.filter((p) => !/^HTTP 401 for .*\/graphql$/.test(p))).toEqual([]);
    await fresh.page.context().close();
  }, 60_000);
});
