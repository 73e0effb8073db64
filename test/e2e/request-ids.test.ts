import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { followToEnd, IMAGE, rawGenerationId } from '../helpers/generation.ts';
import { GENERATE } from '../helpers/graphql.ts';
import { isAccessLine, parseLogLines } from '../helpers/logs.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.dispose();
});

const generate = (headers: Record<string, string>) =>
  fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: GENERATE, variables: { input: { imageUrl: IMAGE, prompt: 'a cat walks' } } }),
  });

/** A request with header bytes fetch would not send (it rejects or re-encodes them), through node:http. */
const rawGet = (path: string, headers: Record<string, string>) =>
  new Promise<string | undefined>((resolve, reject) => {
    const req = httpRequest(new URL(path, s.url), { headers }, (res) => {
      res.resume();
      resolve(res.headers['x-request-id'] as string | undefined);
    });
    req.on('error', reject);
    req.end();
  });

describe('request ids and the access log', () => {
  it('echoes a valid x-request-id and puts it on the access line and on every line the request caused', async () => {
    const requestId = 'client id 7/ABC-xyz_~';
    const response = await generate({ 'x-request-id': requestId });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const { generation } = ((await response.json()) as { data: { generateVideo: { generation: { id: string; falRequestId: string } } } })
      .data.generateVideo;

    const access = await s.waitForLog(isAccessLine(requestId));
    expect(access).toMatchObject({ level: 'info', method: 'POST', path: '/graphql', status: 200, requestId });
    expect(access.durationMs).toBeGreaterThanOrEqual(0);
    // The submission and, later, the tracker's completion line: both caused by this request.
    const id = rawGenerationId(generation.id);
    const submitted = await s.waitForLog((r) => r.generationId === id && /submitted to fal/.test(r.msg));
    expect(submitted).toMatchObject({ requestId, falRequestId: generation.falRequestId, tenantId: 'default' });
    await followToEnd(s, generation.id);
    const completed = await s.waitForLog((r) => r.generationId === id && r.status === 'COMPLETED');
    expect(completed).toMatchObject({ requestId, falRequestId: generation.falRequestId, tenantId: 'default' });
    // Exactly one access line for it.
    expect(parseLogLines(s.logs).filter(isAccessLine(requestId))).toHaveLength(1);
  });

  it('replaces an id that is too long, has control characters or is not ASCII, and generates one when none is sent', async () => {
    const refused = ['x'.repeat(129), 'tab\tinside', 'café-ünïcode'];
    const given = [
      (await generate({ 'x-request-id': refused[0] })).headers.get('x-request-id'),
      await rawGet('/healthz', { 'x-request-id': refused[1] }),
      await rawGet('/healthz', { 'x-request-id': Buffer.from(refused[2], 'utf8').toString('latin1') }),
      (await fetch(new URL('/healthz', s.url))).headers.get('x-request-id'),
    ];
    for (const id of given) expect(id).toMatch(UUID);
    expect(new Set(given).size).toBe(given.length);
    for (const id of given) await s.waitForLog(isAccessLine(id!));
    const text = s.logs.join('\n');
    for (const value of refused) expect(text).not.toContain(JSON.stringify(value).slice(1, -1));
    // At the limit it is still accepted.
    const longest = 'y'.repeat(128);
    expect((await fetch(new URL('/healthz', s.url), { headers: { 'x-request-id': longest } })).headers.get('x-request-id')).toBe(longest);
  });

  it('logs the path without its query string: signed video URLs never reach the log', async () => {
    const response = await generate({});
    const { generation } = ((await response.json()) as { data: { generateVideo: { generation: { id: string } } } }).data.generateVideo;
    const { generation: done } = await followToEnd(s, generation.id);
    const video = new URL(done.video.url as string, s.url);
    expect(video.searchParams.get('sig')).toBeTruthy();
    // Served from the archive, or redirected to fal's URL while the archive is still being written.
    const fetched = await fetch(video, { redirect: 'manual' });
    expect([200, 302]).toContain(fetched.status);
    await fetched.arrayBuffer();
    const access = await s.waitForLog(isAccessLine(fetched.headers.get('x-request-id')!));
    expect(access).toMatchObject({ method: 'GET', path: video.pathname, status: fetched.status });
    const query = await fetch(`${s.url}?query=${encodeURIComponent('{ serverInfo { version } }')}&token=never-logged-query-value`);
    expect(query.status).toBe(200);
    expect(await s.waitForLog(isAccessLine(query.headers.get('x-request-id')!))).toMatchObject({ method: 'GET', path: '/graphql' });
    const text = s.logs.join('\n');
    expect(text).not.toContain(video.searchParams.get('sig')!);
    expect(text).not.toContain('never-logged-query-value');
  });

  it('gives a WebSocket connection a request id, echoed in the upgrade response and on its open and close lines', async () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<string>((resolve, reject) => {
        const req = httpRequest(s.url, {
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'sec-websocket-protocol': 'graphql-transport-ws',
            ...headers,
          },
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.headers['x-request-id'] as string);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await upgrade({ 'x-request-id': 'ws-client-1' })).toBe('ws-client-1');
    await s.waitForLog((r) => r.requestId === 'ws-client-1' && r.transport === 'websocket' && /connected/.test(r.msg));
    await s.waitForLog((r) => r.requestId === 'ws-client-1' && r.transport === 'websocket' && /closed/.test(r.msg));
    // Without one (or with a refused one), the upgrade gets a generated id.
    const generated = await upgrade({ 'x-request-id': 'z'.repeat(200) });
    expect(generated).toMatch(UUID);
    await s.waitForLog((r) => r.requestId === generated && /connected/.test(r.msg));
  });
});
