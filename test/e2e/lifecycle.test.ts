import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, collectSse, disposeClients, EVENTS_SUBSCRIPTION, gql, wsClient } from '../helpers/graphql.ts';
import { eventsOf, generateOk, simulatorLogs } from '../helpers/generation.ts';
import { ServerInfoQuery } from '../../src/client/operations.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

describe('a generation from submission to COMPLETED', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ behaviour: { queuePosition: 2, logCount: 5 } });
  });
  afterAll(() => server?.dispose());

  it('streams every status and log event in order over graphql-ws, then completes', async () => {
    const generation = await generateOk(server);
    expect(generation.backend).toBe('SIMULATOR');
    expect(generation.falRequestId).toMatch(/[0-9a-f-]{36}/);

    const client = wsClient(server.url);
    try {
      const received = eventsOf(await collect(client, EVENTS_SUBSCRIPTION, { id: generation.id }).done);
      expect(received.map((e) => e.sequence)).toEqual(received.map((_, i) => i + 1));
      const statuses = received.filter((e) => e.__typename === 'VideoGenerationStatusEvent');
      expect(statuses[0].status).toBe('PENDING');
      expect(statuses.at(-1)!.status).toBe('COMPLETED');
      expect(received.at(-1)!.__typename).toBe('VideoGenerationStatusEvent');
      const order = statuses.map((e) => e.status).filter((s, i, all) => all.indexOf(s) === i);
      expect(order).toEqual(['PENDING', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);
      // The queue position only ever falls.
      const positions = statuses.filter((e) => e.status === 'IN_QUEUE').map((e) => e.queuePosition!);
      expect(positions).toEqual([...positions].sort((a, b) => b - a));

      const simLogs = simulatorLogs(server, generation.falRequestId!);
      expect(simLogs).toHaveLength(5);
      const logEvents = received.filter((e) => e.__typename === 'VideoGenerationLogEvent');
      expect(logEvents.map((e) => e.log!.message)).toEqual(simLogs);
      for (const e of logEvents) expect(e.log!.sequence).toBe(e.sequence);
      // Logs come while IN_PROGRESS: after that status event and before COMPLETED.
      const inProgressAt = statuses.find((e) => e.status === 'IN_PROGRESS')!.sequence;
      expect(
        logEvents.filter((e) => e.sequence < inProgressAt),
        JSON.stringify(received),
      ).toEqual([]);

      const final = await gql(
        server.url,
        `query($id: ID!) { videoGeneration(id: $id) { status startedAt completedAt video { url contentType fileName fileSize } logs { sequence message } error { code } } }`,
        { id: generation.id },
      );
      const g = final.data.videoGeneration;
      expect(g.status).toBe('COMPLETED');
      expect(g.error).toBeNull();
      expect(g.video.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      expect(g.video.contentType).toBe('video/mp4');
      expect(g.video.fileSize).toBeGreaterThan(1000);
      expect(g.logs.map((l: { message: string }) => l.message)).toEqual(simLogs);
      expect(new Date(g.completedAt).getTime()).toBeGreaterThanOrEqual(new Date(g.startedAt).getTime());

      // The video is a real MP4 (ftyp box at offset 4).
      const bytes = new Uint8Array(await (await fetch(g.video.url)).arrayBuffer());
      expect(new TextDecoder().decode(bytes.slice(4, 8))).toBe('ftyp');

      // A late subscriber gets the whole history once, and completes.
      const replay = eventsOf(await collect(client, EVENTS_SUBSCRIPTION, { id: generation.id }).done);
      expect(replay).toEqual(received.map((e) => ({ ...e, generation: { ...e.generation, status: 'COMPLETED' } })));

      // With afterSequence, only what came after it.
      const tail = eventsOf(await collect(client, EVENTS_SUBSCRIPTION, { id: generation.id, after: 3 }).done);
      expect(tail.map((e) => e.sequence)).toEqual(received.slice(3).map((e) => e.sequence));
      const none = eventsOf(await collect(client, EVENTS_SUBSCRIPTION, { id: generation.id, after: received.length }).done);
      expect(none).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('delivers the same events over Server-Sent Events', async () => {
    const generation = await generateOk(server);
    const received = eventsOf(await collectSse(server.url, EVENTS_SUBSCRIPTION, { id: generation.id }));
    expect(received.map((e) => e.sequence)).toEqual(received.map((_, i) => i + 1));
    expect(received.at(-1)!.status).toBe('COMPLETED');
    expect(received.filter((e) => e.log).map((e) => e.log!.message)).toEqual(simulatorLogs(server, generation.falRequestId!));
  });

  it('answers a subscription to an unknown or malformed id with a clear GraphQL error', async () => {
    const client = wsClient(server.url);
    try {
      for (const id of ['0190d6a4-0000-7000-8000-000000000000', 'not-an-id', 'VmlkZW9HZW5lcmF0aW9uOjE=']) {
        const [payload, ...rest] = await collect(client, EVENTS_SUBSCRIPTION, { id }).done;
        expect(rest).toEqual([]);
        expect(payload.data ?? null).toBeNull();
        expect(payload.errors).toHaveLength(1);
        expect(payload.errors![0].message).toBe(`No video generation with id "${id}"`);
        expect(payload.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND' });
      }
      const sse = await collectSse(server.url, EVENTS_SUBSCRIPTION, { id: 'not-an-id' });
      expect(sse[0].errors![0].message).toBe('No video generation with id "not-an-id"');
    } finally {
      await client.dispose();
    }
  });

  it('reports the backend in serverInfo', async () => {
    const info = await gql(server.url, ServerInfoQuery);
    expect(info.data?.serverInfo).toMatchObject({
      falBackend: 'SIMULATOR',
      simulated: true,
      endpointId: 'fal-ai/kling-video/o3/standard/image-to-video',
    });
  });
});

describe('one upstream stream per generation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ behaviour: { queuePosition: 1, logCount: 3, pauseBefore: 'COMPLETED' } });
  });
  afterAll(() => server?.dispose());

  it('serves 100 subscribers from exactly one fal status stream', async () => {
    const generation = await generateOk(server);
    const clients = Array.from({ length: 4 }, () => wsClient(server.url));
    try {
      const subs = Array.from({ length: 100 }, (_, i) => collect(clients[i % clients.length], EVENTS_SUBSCRIPTION, { id: generation.id }));
      // Everyone has seen the history up to the last log line before fal is allowed to finish.
      await Promise.all(subs.map((s) => s.waitFor(6)));
      server.sim.resume(generation.falRequestId!);
      const all = await Promise.all(subs.map((s) => s.done));
      const first = eventsOf(all[0]);
      expect(first.at(-1)!.status).toBe('COMPLETED');
      for (const payloads of all) expect(eventsOf(payloads).map((e) => e.sequence)).toEqual(first.map((e) => e.sequence));
      expect(server.sim.stats.streamsOpened).toBe(1);
      expect(server.sim.stats.submits).toBe(1);
    } finally {
      await disposeClients(clients);
    }
  });
});
