import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';
import { followToEnd, generateOk, IMAGE } from '../helpers/generation.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.dispose();
  server = null;
});

/** The final state of a generation, after following its events to the end (gap-free, one terminal event). */
const finalState = async (s: TestServer, id: string) => (await followToEnd(s, id)).generation;

describe('validation before any money is spent', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['a non-http imageUrl', { imageUrl: 'ftp://example.com/a.png', prompt: 'x' }, ['input', 'imageUrl']],
    ['an empty imageUrl', { imageUrl: '', prompt: 'x' }, ['input', 'imageUrl']],
    ['a malformed imageUrl', { imageUrl: 'not a url', prompt: 'x' }, ['input', 'imageUrl']],
    ['a non-http endImageUrl', { imageUrl: IMAGE, endImageUrl: 'javascript:alert(1)', prompt: 'x' }, ['input', 'endImageUrl']],
    ['neither prompt nor multiPrompt', { imageUrl: IMAGE }, ['input', 'prompt']],
    ['both prompt and multiPrompt', { imageUrl: IMAGE, prompt: 'x', multiPrompt: [{ prompt: 'y' }] }, ['input', 'prompt']],
    ['duration below 3', { imageUrl: IMAGE, prompt: 'x', duration: 2 }, ['input', 'duration']],
    ['duration above 15', { imageUrl: IMAGE, prompt: 'x', duration: 16 }, ['input', 'duration']],
    ['an empty prompt', { imageUrl: IMAGE, prompt: '   ' }, ['input', 'prompt']],
    ['a prompt over 2,500 characters', { imageUrl: IMAGE, prompt: 'a'.repeat(2501) }, ['input', 'prompt']],
    [
      'a shot with an empty prompt',
      { imageUrl: IMAGE, multiPrompt: [{ prompt: 'ok' }, { prompt: '' }] },
      ['input', 'multiPrompt', '1', 'prompt'],
    ],
    ['an empty shot list', { imageUrl: IMAGE, multiPrompt: [] }, ['input', 'multiPrompt']],
  ];

  // One server for every rejection: none of them may leave a trace, so they cannot disturb each other.
  let shared: TestServer;
  beforeAll(async () => {
    shared = await startTestServer();
  });
  afterAll(() => shared?.dispose());

  it.each(cases)('rejects %s with InputValidationError and its field path', async (_name, input, path) => {
    const result = await gql(shared.url, GENERATE, { input });
    expect(result.errors).toBeUndefined();
    const payload = result.data.generateVideo;
    expect(payload.__typename).toBe('InputValidationError');
    expect(payload.fieldErrors.map((e: { path: string[] }) => e.path)).toContainEqual(path);
    expect(payload.message).not.toMatch(/at .*\.ts:\d+/);
    expect(shared.sim.stats.submits).toBe(0);
    expect(await shared.running.database.prisma.generation.count()).toBe(0);
    expect(await shared.running.database.prisma.generationEvent.count()).toBe(0);
  });

  it('accepts exactly 2,500 characters, the bounds 3 and 15, and a shot list', async () => {
    server = await startTestServer();
    for (const input of [
      { prompt: 'a'.repeat(2500), duration: 3 },
      { prompt: 'b', duration: 15, generateAudio: true, endImageUrl: 'http://example.com/end.png' },
      { prompt: null, multiPrompt: [{ prompt: 'wide shot', duration: 2 }, { prompt: 'close up' }], duration: 5 },
    ]) {
      await generateOk(server, input);
    }
    expect(server.sim.stats.submits).toBe(3);
    const sent = [...server.sim.requests.values()].map((r) => r.input as Record<string, unknown>);
    expect(sent[1]).toMatchObject({
      duration: '15',
      generate_audio: true,
      end_image_url: 'http://example.com/end.png',
      shot_type: 'customize',
    });
    expect(sent[2]).toMatchObject({ multi_prompt: [{ prompt: 'wide shot', duration: '2' }, { prompt: 'close up' }], duration: '5' });
    expect(sent[2]).not.toHaveProperty('prompt');
  });
});

describe('errors fal reports', () => {
  it('turns a fal 422 into a FAILED generation that says what fal said', async () => {
    server = await startTestServer({
      behaviour: {
        logCount: 2,
        outcome: {
          kind: 'error',
          status: 422,
          body: {
            detail: [{ loc: ['body', 'prompt'], msg: 'The content was flagged by a content checker.', type: 'content_policy_violation' }],
          },
        },
      },
    });
    const g = await generateOk(server);
    const final = await finalState(server, g.id);
    expect(final.status).toBe('FAILED');
    expect(final.error.code).toBe('FAL_CONTENT_POLICY');
    expect(final.error.message).toContain('prompt: The content was flagged by a content checker.');
    expect(final.video).toBeNull();
    expect(final.logs).toHaveLength(2);
  });

  it('retries a fal 503 on submit and then proceeds', async () => {
    server = await startTestServer({ behaviour: { logCount: 1 } });
    server.sim.failNext('submit', { status: 503, body: { detail: 'Service unavailable' } }, 2);
    const g = await generateOk(server);
    expect(g.falRequestId).toBeTruthy();
    expect(server.sim.stats.submits).toBe(3);
    expect(server.sim.requests.size).toBe(1);
    expect((await finalState(server, g.id)).status).toBe('COMPLETED');
  });

  it('marks the generation FAILED when fal keeps refusing the submit', async () => {
    server = await startTestServer();
    server.sim.failNext('submit', { status: 400, body: { detail: 'Bad request' } }, 1);
    const result = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'x' } });
    const g = result.data.generateVideo.generation;
    expect(g.status).toBe('FAILED');
    expect(g.falRequestId).toBeNull();
    const final = await finalState(server, g.id);
    expect(final.error.code).toBe('FAL_HTTP_400');
    expect(final.error.message).toBe('Bad request');
  });

  it("fails with fal's message when the result endpoint answers 5xx", async () => {
    server = await startTestServer({
      behaviour: {
        logCount: 1,
        outcome: { kind: 'error', status: 500, body: { detail: 'Runner disconnected', error_type: 'runner_disconnected' } },
      },
    });
    const g = await generateOk(server);
    const final = await finalState(server, g.id);
    expect(final.status).toBe('FAILED');
    expect(final.error).toEqual({ code: 'FAL_RUNNER_DISCONNECTED', message: 'Runner disconnected' });
  });
});

describe('tracking survives broken streams and restarts', () => {
  it('reconnects when the status stream drops mid-way: every log once, in order', async () => {
    server = await startTestServer({ behaviour: { queuePosition: 2, logCount: 8, dropStreamAfterEvents: 2 } });
    const g = await generateOk(server);
    const final = await finalState(server, g.id);
    expect(final.status).toBe('COMPLETED');
    const simLogs = server.sim.requests.get(g.falRequestId!)!.logs.map((l) => l.message);
    expect(final.logs.map((l: { message: string }) => l.message)).toEqual(simLogs);
    expect(server.sim.stats.streamsOpened).toBeGreaterThan(1);
  });

  it('falls back to polling when the stream keeps failing', async () => {
    server = await startTestServer({ behaviour: { logCount: 4 } });
    server.sim.failNext('stream', { status: 503, body: { detail: 'unavailable' } }, 100);
    const g = await generateOk(server);
    const final = await finalState(server, g.id);
    expect(final.status).toBe('COMPLETED');
    expect(final.logs.map((l: { message: string }) => l.message)).toEqual(
      server.sim.requests.get(g.falRequestId!)!.logs.map((l) => l.message),
    );
    expect(server.sim.stats.statusPolls).toBeGreaterThan(0);
  });

  it('picks an in-flight generation up again after a restart, history intact', async () => {
    server = await startTestServer({ persistent: true, behaviour: { queuePosition: 1, logCount: 6, logIntervalMs: 150 } });
    const g = await generateOk(server);
    const client = wsClient(server.url);
    const firstRun = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
    // Stop once the first log line has been recorded: some lines come while we are down.
    await firstRun.waitUntil((received) => received.some((p) => p.data?.videoGenerationEvents?.log));
    const firstRunEnd = firstRun.done.then(
      () => 'completed',
      () => 'connection closed',
    );
    await server.stopApp();
    // The server went away mid-stream: the subscriber's connection closed rather than completing.
    expect(await firstRunEnd).toBe('connection closed');
    await client.dispose();

    // fal finishes while nobody is listening.
    const request = server.sim.requests.get(g.falRequestId!)!;
    if (request.status !== 'COMPLETED') {
      await new Promise<void>((resolve) => {
        const onChange = (req: { id: string; status: string }) => {
          if (req.id === g.falRequestId && req.status === 'COMPLETED') {
            server!.sim.events.off('status-change', onChange);
            resolve();
          }
        };
        server!.sim.events.on('status-change', onChange);
      });
    }
    server = await server.restart();
    const final = await finalState(server, g.id);
    expect(final.status).toBe('COMPLETED');
    expect(final.video.url).toBeTruthy();
    const simLogs = server.sim.requests.get(g.falRequestId!)!.logs.map((l) => l.message);
    expect(simLogs).toHaveLength(6);
    expect(final.logs.map((l: { message: string }) => l.message)).toEqual(simLogs);
    expect(server.sim.stats.submits).toBe(1);
  });
});
