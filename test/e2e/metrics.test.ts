import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { rawGenerationId, generateOk, followToEnd } from '../helpers/generation.ts';
import { collect, collectSse, EVENTS_SUBSCRIPTION, gql, wsClient } from '../helpers/graphql.ts';
import { loopbackOrigin, parseScrape, scrape, type Scrape } from '../helpers/metrics.ts';
import { registerSecret } from '../helpers/secrets.ts';
import { ARCHIVE_OUTCOMES, FAL_OPERATIONS, FAL_OUTCOMES, FINISHED_STATUSES, SUBSCRIPTION_TRANSPORTS } from '../../src/metrics/types.ts';
import { ServerInfoQuery } from '../../src/client/operations.ts';

const servers: TestServer[] = [];
async function server(options: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer(options);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

const LAG = 'reelgraph_event_delivery_lag_seconds';
/** GET /metrics on 127.0.0.1 with a Host header of our choosing (fetch does not let a caller set Host). */
function statusWithHost(s: TestServer, host: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.running.port, path: '/metrics', headers: { host, ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}
/** Re-scrapes until the state is reached (a socket or response closes a moment after the client sees it end). */
const POLL = { timeout: 15_000, interval: 50 };
const active = (m: Scrape, transport: string) => m.value('reelgraph_subscriptions_active', { transport });

describe('GET /metrics', () => {
  it('exports every series from start-up, zero for each known label value, next to process and GraphQL metrics', async () => {
    const s = await server();
    // One GraphQL request, so Yoga's timings have something to report.
    expect((await gql(s.url, ServerInfoQuery)).errors).toBeUndefined();
    const m = await scrape(s);
    expect(m.value('reelgraph_generations_created_total')).toBe(0);
    for (const status of FINISHED_STATUSES) expect(m.value('reelgraph_generations_finished_total', { status })).toBe(0);
    expect(m.value('reelgraph_generations_tracked')).toBe(0);
    for (const operation of FAL_OPERATIONS) {
      for (const outcome of FAL_OUTCOMES) expect(m.value('reelgraph_fal_requests_total', { operation, outcome })).toBe(0);
    }
    expect(m.value('reelgraph_log_lines_ingested_total')).toBe(0);
    for (const transport of SUBSCRIPTION_TRANSPORTS) expect(active(m, transport)).toBe(0);
    expect(m.value(`${LAG}_count`)).toBe(0);
    expect(m.value(`${LAG}_bucket`, { le: '+Inf' })).toBe(0);
    for (const outcome of ARCHIVE_OUTCOMES) expect(m.value('reelgraph_archive_attempts_total', { outcome })).toBe(0);
    // The exact label sets: nothing else (no ids, no tenants) is ever a label value.
    expect(m.samples('reelgraph_fal_requests_total')).toHaveLength(FAL_OPERATIONS.length * FAL_OUTCOMES.length);
    // Node's default metrics and Yoga's GraphQL timings, without client-chosen operation names as labels.
    expect(m.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(m.samples('nodejs_eventloop_lag_seconds').length).toBeGreaterThan(0);
    const execute = m.samples('graphql_envelop_phase_execute_count');
    expect(execute.length).toBeGreaterThan(0);
    for (const sample of execute) expect(sample.labels.operationName).toBeUndefined();
  });

  it('counts a generation from creation to its archived video, and both transports subscriptions up and down', async () => {
    const s = await server({ behaviour: { pauseBefore: 'COMPLETED', logCount: 4 } });
    const generation = await generateOk(s);
    const id = rawGenerationId(generation.id);
    const before = await scrape(s);
    expect(before.value('reelgraph_generations_created_total')).toBe(1);
    expect(before.value('reelgraph_generations_tracked')).toBe(1);
    expect(before.value('reelgraph_fal_requests_total', { operation: 'submit', outcome: 'ok' })).toBe(1);

    // Subscribers on both transports while fal holds the generation: some stay to the end, some leave early
    // (a graphql-ws complete message, a closed socket, an aborted SSE response).
    const ws = wsClient(s.url);
    const overWs = collect(ws, EVENTS_SUBSCRIPTION, { id: generation.id });
    const cancelled = collect(ws, EVENTS_SUBSCRIPTION, { id: generation.id });
    const otherSocket = wsClient(s.url);
    const onClosedSocket = collect(otherSocket, EVENTS_SUBSCRIPTION, { id: generation.id });
    let sseOpen!: () => void;
    const sseOpened = new Promise<void>((resolve) => (sseOpen = resolve));
    const overSse = collectSse(s.url, EVENTS_SUBSCRIPTION, { id: generation.id }, {}, () => sseOpen());
    const leaving = new AbortController();
    const leavingSse = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: EVENTS_SUBSCRIPTION, variables: { id: generation.id } }),
      signal: leaving.signal,
    });
    const reader = leavingSse.body!.getReader();
    await reader.read();
    await Promise.all([overWs.waitFor(1), cancelled.waitFor(1), onClosedSocket.waitFor(1), sseOpened]);
    const open = await scrape(s);
    expect(active(open, 'graphql-ws')).toBe(3);
    expect(active(open, 'sse')).toBe(2);

    cancelled.cancel();
    await otherSocket.dispose();
    leaving.abort();
    await reader.closed.catch(() => undefined);
    await expect
      .poll(async () => {
        const m = await scrape(s);
        return [active(m, 'graphql-ws'), active(m, 'sse')];
      }, POLL)
      .toEqual([1, 1]);

    s.sim.resume(generation.falRequestId as string);
    await Promise.all([overWs.done, overSse]);
    await ws.dispose();
    await s.running.archiver.settled(id);
    // Both transports release their subscription as the response or socket closes, just after the last event.
    await expect
      .poll(async () => {
        const m = await scrape(s);
        return [active(m, 'graphql-ws'), active(m, 'sse'), m.value('reelgraph_generations_tracked')];
      }, POLL)
      .toEqual([0, 0, 0]);

    const after = await scrape(s);
    const falLines = s.sim.requests.get(generation.falRequestId as string)!.logs.length;
    expect(falLines).toBe(4);
    expect(after.value('reelgraph_generations_created_total')).toBe(1);
    expect(after.value('reelgraph_generations_finished_total', { status: 'COMPLETED' })).toBe(1);
    expect(after.value('reelgraph_generations_finished_total', { status: 'FAILED' })).toBe(0);
    expect(after.value('reelgraph_log_lines_ingested_total')).toBe(falLines);
    // One delivery-lag observation per live log line, each measured from fal's own timestamp.
    expect(after.value(`${LAG}_count`)).toBe(falLines);
    expect(after.value(`${LAG}_bucket`, { le: '+Inf' })).toBe(falLines);
    expect(after.value(`${LAG}_sum`)).toBeGreaterThanOrEqual(0);
    expect(after.value('reelgraph_fal_requests_total', { operation: 'result', outcome: 'ok' })).toBe(1);
    const followed =
      (after.value('reelgraph_fal_requests_total', { operation: 'stream', outcome: 'ok' }) ?? 0) +
      (after.value('reelgraph_fal_requests_total', { operation: 'status', outcome: 'ok' }) ?? 0);
    expect(followed).toBeGreaterThan(0);
    for (const operation of FAL_OPERATIONS) expect(after.value('reelgraph_fal_requests_total', { operation, outcome: 'error' })).toBe(0);
    expect(after.value('reelgraph_archive_attempts_total', { outcome: 'archived' })).toBe(1);
    expect(after.value('reelgraph_archive_attempts_total', { outcome: 'retrying' })).toBe(0);
    // GraphQL timings cover queries and mutations; subscriptions' event streams are left unwrapped.
    const graphqlRequests = after.samples('graphql_envelop_request');
    expect(graphqlRequests.map((sample) => sample.labels.operationType)).toContain('mutation');
    expect(graphqlRequests.map((sample) => sample.labels.operationType)).not.toContain('subscription');
  });

  it('counts failures and cancels: a refused submit, a cancelled generation, an archive retry', async () => {
    const s = await server();
    s.sim.failNext('submit', { status: 422, body: { detail: [{ loc: ['body', 'prompt'], msg: 'refused', type: 'value_error' }] } });
    expect((await generateOk(s)).status).toBe('FAILED');
    // The first download of the video fails: the archive is retried, then archived.
    s.sim.failNext('file', { status: 503, body: { detail: 'CDN hiccup' } }, 1);
    const completed = await generateOk(s);
    await followToEnd(s, completed.id);
    await s.running.archiver.settled(rawGenerationId(completed.id));
    s.sim.configure({ pauseBefore: 'IN_PROGRESS' });
    const queued = await generateOk(s);
    const cancel = await gql(s.url, 'mutation($id: ID!) { cancelVideoGeneration(id: $id) { __typename } }', { id: queued.id });
    expect(cancel.data.cancelVideoGeneration.__typename).toBe('CancelVideoGenerationSuccess');

    const m = await scrape(s);
    expect(m.value('reelgraph_generations_created_total')).toBe(3);
    const finished = Object.fromEntries(
      FINISHED_STATUSES.map((status) => [status, m.value('reelgraph_generations_finished_total', { status })]),
    );
    expect(finished).toEqual({ COMPLETED: 1, FAILED: 1, CANCELLED: 1 });
    expect(m.value('reelgraph_fal_requests_total', { operation: 'submit', outcome: 'error' })).toBe(1);
    expect(m.value('reelgraph_fal_requests_total', { operation: 'submit', outcome: 'ok' })).toBe(2);
    expect(m.value('reelgraph_fal_requests_total', { operation: 'cancel', outcome: 'ok' })).toBe(1);
    expect(m.value('reelgraph_archive_attempts_total', { outcome: 'retrying' })).toBe(1);
    expect(m.value('reelgraph_archive_attempts_total', { outcome: 'archived' })).toBe(1);
    expect(m.value('reelgraph_archive_attempts_total', { outcome: 'failed' })).toBe(0);
  });

  it('several apps in one process keep separate counts', async () => {
    const [a, b] = await Promise.all([server(), server()]);
    await generateOk(a);
    expect((await scrape(a)).value('reelgraph_generations_created_total')).toBe(1);
    expect((await scrape(b)).value('reelgraph_generations_created_total')).toBe(0);
  });
});

describe('who may read /metrics', () => {
  const get = (s: TestServer, headers: Record<string, string> = {}) => fetch(`${loopbackOrigin(s)}/metrics`, { headers });

  it('on a non-loopback bind without METRICS_TOKEN: 404, whatever is sent', async () => {
    const s = await server({ env: { HOST: '0.0.0.0' } });
    expect((await get(s)).status).toBe(404);
    expect((await get(s, { authorization: 'Bearer anything' })).status).toBe(404);
  });

  it('on a non-loopback bind with METRICS_TOKEN: 401 without or with a wrong token, 200 with the right one; the token is never logged', async () => {
    const token = registerSecret('metrics-token-0123456789abcdef');
    const s = await server({ env: { HOST: '0.0.0.0', METRICS_TOKEN: token } });
    const missing = await get(s);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await missing.text()).not.toContain(token);
    expect((await get(s, { authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await get(s, { authorization: `Bearer ${token.slice(0, -1)}` })).status).toBe(401);
    expect((await get(s, { authorization: `Basic ${token}` })).status).toBe(401);
    const ok = await get(s, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    const m = parseScrape(await ok.text());
    expect(m.value('reelgraph_generations_created_total')).toBe(0);
    expect(m.text).not.toContain(token);
    // dispose() checks that the token appears nowhere in the server's log.
  });

  it('on loopback: open without a token (even with METRICS_TOKEN set), but a request naming another host (DNS rebinding, a forwarding proxy) follows the non-loopback rule', async () => {
    const token = registerSecret('metrics-token-loopback-0123456789');
    // AUTH=required: in open mode the request gate already refuses a foreign Host with 403 (DNS rebinding)
    // before any route runs, which would hide the metrics route's own rule.
    const [open, closed, guarded] = await Promise.all([
      server(),
      server({ env: { AUTH: 'required' } }),
      server({ env: { AUTH: 'required', METRICS_TOKEN: token } }),
    ]);
    expect(await statusWithHost(open, 'rebound.example.com')).toBe(403);
    expect((await get(closed)).status).toBe(200);
    expect((await get(guarded)).status).toBe(200);
    expect((await fetch(`http://localhost:${guarded.running.port}/metrics`)).status).toBe(200);
    expect(await statusWithHost(closed, 'rebound.example.com')).toBe(404);
    expect(await statusWithHost(guarded, 'rebound.example.com')).toBe(401);
    expect(await statusWithHost(guarded, 'rebound.example.com', { authorization: `Bearer ${token}` })).toBe(200);
    expect(await statusWithHost(guarded, `127.0.0.1:${guarded.running.port}`)).toBe(200);
  });
});
