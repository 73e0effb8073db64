import { afterEach, describe, expect, it } from 'vitest';
import { createFalClient } from '@fal-ai/client';
import { pythonJson } from '../../src/fal/simulator/index.ts';
import { createWebhookSigner } from '../../src/fal/simulator/webhooks.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { followToEnd, generateOk, simulatorLogs } from '../helpers/generation.ts';
import { collect, EVENTS_SUBSCRIPTION, wsClient } from '../helpers/graphql.ts';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.dispose();
  server = null;
});

const hookUrl = (s: TestServer) => s.url.replace(/\/graphql$/, '/webhooks/fal');

async function deliver(s: TestServer, body: string, headers: Record<string, string>, query = '') {
  return fetch(`${hookUrl(s)}${query}`, { method: 'POST', headers, body });
}

async function snapshot(s: TestServer) {
  const prisma = s.running.database.prisma;
  return {
    generations: await prisma.generation.findMany({ orderBy: { id: 'asc' } }),
    events: await prisma.generationEvent.count(),
    videos: await prisma.videoOutput.count(),
  };
}

describe('fal webhooks in', () => {
  it('asks fal for a webhook and records completion exactly once when it arrives before the stream says COMPLETED', async () => {
    // The stream lags 300 ms behind fal, so the webhook (sent at completion) wins the race.
    server = await startTestServer({ webhooks: true, behaviour: { logCount: 4, streamDelayMs: 300 } });
    const g = await generateOk(server);
    const request = server.sim.requests.get(g.falRequestId!)!;
    expect(request.webhookUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/webhooks/fal\\?generation=[0-9a-f-]{36}$`));
    const { generation, events } = await followToEnd(server, g.id);
    expect(generation.status).toBe('COMPLETED');
    expect(generation.logs.map((l: { message: string }) => l.message)).toEqual(simulatorLogs(server, g.falRequestId!));
    expect(events.filter((e: { status?: string }) => e.status === 'COMPLETED')).toHaveLength(1);
    expect(server.sim.stats.webhookDeliveries).toBeGreaterThanOrEqual(1);
    expect(server.sim.stats.submits).toBe(1);
  });

  it('treats duplicate and late deliveries as no-ops', async () => {
    server = await startTestServer({ webhooks: true, behaviour: { logCount: 1 } });
    const g = await generateOk(server);
    await followToEnd(server, g.id);
    const body = pythonJson({
      request_id: g.falRequestId,
      gateway_request_id: g.falRequestId,
      status: 'OK',
      error: null,
      payload: { video: { url: 'https://elsewhere.test/other.mp4' } },
    });
    const before = await snapshot(server);
    for (let i = 0; i < 3; i += 1) {
      const response = await deliver(server, body, server.sim.signWebhook(body, g.falRequestId!));
      expect(response.status).toBe(200);
    }
    // Out of order: an ERROR delivered after the request completed changes nothing either.
    const late = pythonJson({
      request_id: g.falRequestId,
      gateway_request_id: g.falRequestId,
      status: 'ERROR',
      error: 'Invalid status code: 500',
      payload: { detail: 'boom' },
    });
    expect((await deliver(server, late, server.sim.signWebhook(late, g.falRequestId!))).status).toBe(200);
    expect(await snapshot(server)).toEqual(before);
  });

  it('rejects forged, stale, unknown-key and malformed deliveries and changes nothing', async () => {
    server = await startTestServer({ webhooks: true, behaviour: { logCount: 1, pauseBefore: 'COMPLETED' } });
    const s = server;
    const g = await generateOk(s);
    const id = g.falRequestId!;
    // Wait until everything before fal's (paused) completion is recorded, so nothing moves by itself.
    const client = wsClient(s.url);
    await collect(client, EVENTS_SUBSCRIPTION, { id: g.id }).waitUntil((r) => r.some((p) => p.data.videoGenerationEvents.log));
    await client.dispose();
    const body = pythonJson({
      request_id: id,
      gateway_request_id: id,
      status: 'OK',
      error: null,
      payload: { video: { url: 'https://evil.test/x.mp4' } },
    });
    const good = s.sim.signWebhook(body, id);
    const before = await snapshot(s);
    const foreignKey = createWebhookSigner().headers(body, id);

    const cases: Array<[string, string, Record<string, string>, number]> = [
      [
        'bad signature',
        body,
        { ...good, 'x-fal-webhook-signature': good['x-fal-webhook-signature'].replace(/^./, (c) => (c === '0' ? '1' : '0')) },
        401,
      ],
      ['tampered body', body.replace('evil', 'evjl'), good, 401],
      ['unknown key id', body, foreignKey, 401],
      ['stale timestamp', body, s.sim.signWebhook(body, id, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 401],
      // Whole seconds on the wire: +305 stays beyond the 300 s window however the clock ticks meanwhile.
      ['future timestamp', body, s.sim.signWebhook(body, id, { timestamp: Math.floor(Date.now() / 1000) + 305 }), 401],
      ['missing headers', body, { 'content-type': 'application/json' }, 401],
      ['invalid JSON', '{not json', s.sim.signWebhook('{not json', id), 400],
      [
        'unknown request id',
        body.replaceAll(id, '00000000-0000-4000-8000-000000000000'),
        s.sim.signWebhook(body.replaceAll(id, '00000000-0000-4000-8000-000000000000'), '00000000-0000-4000-8000-000000000000'),
        404,
      ],
    ];
    for (const [name, payload, headers, status] of cases) {
      const response = await deliver(s, payload, headers);
      expect(response.status, name).toBe(status);
      const text = await response.text();
      expect(text, name).not.toMatch(/at .*\.ts:\d+|stack/i);
    }
    expect(await snapshot(s)).toEqual(before);
    s.sim.resume(id);
    expect((await followToEnd(s, g.id)).generation.video.sourceUrl.startsWith(s.sim.url)).toBe(true);
  });

  it("matches an orphan (a crash between our write and fal's answer) by its webhook", async () => {
    server = await startTestServer({ webhooks: true, behaviour: { logCount: 2 } });
    const s = server;
    const prisma = s.running.database.prisma;
    // The row as it is left when the process dies right after fal accepted the submit.
    const orphan = await prisma.generation.create({
      data: {
        backend: 'SIMULATOR',
        endpointId: 'fal-ai/kling-video/o3/standard/image-to-video',
        imageUrl: 'https://example.com/a.png',
        prompt: 'orphan',
        duration: 5,
        generateAudio: false,
        shotType: 'customize',
        falInput: { image_url: 'https://example.com/a.png', prompt: 'orphan', duration: '5' },
        lastSequence: 1,
        events: { create: { sequence: 1, kind: 'STATUS', status: 'PENDING' } },
      },
    });
    const fal = createFalClient({
      credentials: () => undefined,
      requestMiddleware: (r) => Promise.resolve({ ...r, url: r.url.replace(/^https:\/\/queue\.fal\.run/, s.sim.url) }),
    });
    const { request_id } = await fal.queue.submit('fal-ai/kling-video/o3/standard/image-to-video', {
      input: orphan.falInput as never,
      webhookUrl: `${hookUrl(s)}?generation=${orphan.id}`,
    });
    const { generation } = await followToEnd(s, Buffer.from(`VideoGeneration:${orphan.id}`).toString('base64'));
    expect(generation.falRequestId).toBe(request_id);
    expect(generation.status).toBe('COMPLETED');
    expect(generation.logs.map((l: { message: string }) => l.message)).toEqual(simulatorLogs(s, request_id));
    expect(s.sim.stats.submits).toBe(1);
  });

  it('fails an orphan with SUBMISSION_UNKNOWN on recovery when no webhook matched it, and never resubmits', async () => {
    server = await startTestServer({ persistent: true, env: { ORPHAN_AFTER_S: '60' } });
    const prisma = server.running.database.prisma;
    const base = {
      backend: 'SIMULATOR' as const,
      endpointId: 'fal-ai/kling-video/o3/standard/image-to-video',
      imageUrl: 'https://example.com/a.png',
      prompt: 'lost in the crash',
      duration: 5,
      generateAudio: false,
      shotType: 'customize',
      falInput: { image_url: 'https://example.com/a.png', prompt: 'lost in the crash', duration: '5' },
      lastSequence: 1,
      events: { create: { sequence: 1, kind: 'STATUS' as const, status: 'PENDING' as const } },
    };
    const old = await prisma.generation.create({ data: { ...base, createdAt: new Date(Date.now() - 10 * 60_000) } });
    const recent = await prisma.generation.create({ data: { ...base } });
    server = await server.restart();
    const { generation } = await followToEnd(server, Buffer.from(`VideoGeneration:${old.id}`).toString('base64'));
    expect(generation.status).toBe('FAILED');
    expect(generation.error.code).toBe('SUBMISSION_UNKNOWN');
    expect(generation.error.message).toMatch(/not resubmitted/);
    // A younger one may still be matched by its webhook: it is left alone for now.
    expect((await server.running.database.prisma.generation.findUniqueOrThrow({ where: { id: recent.id } })).status).toBe('PENDING');
    expect(server.sim.stats.submits).toBe(0);
  });

  it("keeps the output a webhook delivered when fal's result has expired", async () => {
    // Whichever arrives first, the stream's COMPLETED or the webhook, the output is kept.
    server = await startTestServer({ webhooks: true, behaviour: { logCount: 1, resultExpired: true } });
    const g = await generateOk(server);
    const { generation } = await followToEnd(server, g.id);
    expect(generation.status).toBe('COMPLETED');
    expect(generation.video.sourceUrl).toContain(g.falRequestId);
  });

  it('fails with a clear message when the result has expired and no webhook came', async () => {
    server = await startTestServer({ behaviour: { logCount: 1, resultExpired: true } });
    const g = await generateOk(server);
    const { generation } = await followToEnd(server, g.id);
    expect(generation.status).toBe('FAILED');
    expect(generation.error).toEqual({ code: 'FAL_HTTP_404', message: 'Request result has expired' });
  });
});
