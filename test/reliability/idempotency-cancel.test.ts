import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { followToEnd, generateOk, IMAGE, readGeneration } from '../helpers/generation.ts';
import { collect, EVENTS_SUBSCRIPTION, GENERATE, gql, wsClient } from '../helpers/graphql.ts';

const CANCEL = /* GraphQL */ `
  mutation Cancel($id: ID!) {
    cancelVideoGeneration(id: $id) {
      __typename
      ... on CancelVideoGenerationSuccess { cancelRequested generation { id status } }
      ... on Error { message }
    }
  }
`;

describe('idempotent submission', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ behaviour: { logCount: 1 } });
  });
  afterAll(() => server?.dispose());

  it('returns the same generation for the same key and input, also for concurrent retries', async () => {
    const input = { imageUrl: IMAGE, prompt: 'retry me', idempotencyKey: 'order-42' };
    const results = await Promise.all(Array.from({ length: 6 }, () => gql(server.url, GENERATE, { input })));
    const ids = results.map((r) => r.data.generateVideo.generation.id);
    expect(new Set(ids).size).toBe(1);
    const later = await gql(server.url, GENERATE, { input });
    expect(later.data.generateVideo.generation.id).toBe(ids[0]);
    expect(server.sim.stats.submits).toBe(1);
    expect(await server.running.database.prisma.generation.count({ where: { idempotencyKey: 'order-42' } })).toBe(1);
  });

  it('refuses the same key with a different input, and submits nothing', async () => {
    const submits = server.sim.stats.submits;
    await generateOk(server, { prompt: 'first', idempotencyKey: 'order-43' });
    const clash = await gql(server.url, GENERATE, { input: { imageUrl: IMAGE, prompt: 'second', idempotencyKey: 'order-43' } });
    expect(clash.data.generateVideo).toMatchObject({ __typename: 'IdempotencyKeyConflictError' });
    expect(server.sim.stats.submits).toBe(submits + 1);
  });

  it('rejects a key longer than 255 characters with its path, storing nothing', async () => {
    const before = await server.running.database.prisma.generation.count();
    const result = await gql(
      server.url,
      `mutation($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename ... on InputValidationError { fieldErrors { path message } } } }`,
      {
        input: { imageUrl: IMAGE, prompt: 'x', idempotencyKey: 'k'.repeat(256) },
      },
    );
    expect(result.data.generateVideo.__typename).toBe('InputValidationError');
    expect(result.data.generateVideo.fieldErrors).toEqual([
      { path: ['input', 'idempotencyKey'], message: 'must be at most 255 characters' },
    ]);
    expect(await server.running.database.prisma.generation.count()).toBe(before);
  });

  it('treats a key older than 24 hours as new', async () => {
    const first = await generateOk(server, { prompt: 'old', idempotencyKey: 'order-44' });
    const prisma = server.running.database.prisma;
    await prisma.generation.updateMany({
      where: { idempotencyKey: 'order-44' },
      data: { createdAt: new Date(Date.now() - 25 * 3600 * 1000) },
    });
    const second = await generateOk(server, { prompt: 'new', idempotencyKey: 'order-44' });
    expect(second.id).not.toBe(first.id);
    expect(await prisma.generation.count({ where: { idempotencyKey: 'order-44' } })).toBe(1);
  });
});

/**
 * Starts a generation, waits (on its own events) until it runs, and cancels it. lastEvent() resolves with the
 * subscription's final event once the generation has ended.
 */
async function cancelWhileRunning(server: TestServer) {
  const g = await generateOk(server);
  const client = wsClient(server.url);
  const watcher = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
  await watcher.waitUntil((r) => r.some((p) => p.data.videoGenerationEvents.status === 'IN_PROGRESS'));
  const result = (await gql(server.url, CANCEL, { id: g.id })).data.cancelVideoGeneration;
  const lastEvent = async () => {
    try {
      return (await watcher.done).map((p) => p.data.videoGenerationEvents).at(-1);
    } finally {
      await client.dispose();
    }
  };
  return { g, result, lastEvent };
}

describe('cancelVideoGeneration', () => {
  it('cancels a queued generation at fal; subscribers see CANCELLED and complete', async () => {
    const server = await startTestServer({ behaviour: { queuePosition: 100, queueStepMs: 1000 } });
    try {
      const g = await generateOk(server);
      const client = wsClient(server.url);
      const watcher = collect(client, EVENTS_SUBSCRIPTION, { id: g.id });
      await watcher.waitFor(2);
      const result = await gql(server.url, CANCEL, { id: g.id });
      expect(result.data.cancelVideoGeneration).toMatchObject({
        __typename: 'CancelVideoGenerationSuccess',
        cancelRequested: false,
        generation: { status: 'CANCELLED' },
      });
      const events = (await watcher.done).map((p) => p.data.videoGenerationEvents);
      expect(events.at(-1)).toMatchObject({ status: 'CANCELLED' });
      await client.dispose();
      expect(server.sim.requests.get(g.falRequestId!)!.cancelled).toBe(true);
      expect(server.sim.stats.cancels).toBe(1);

      const again = await gql(server.url, CANCEL, { id: g.id });
      expect(again.data.cancelVideoGeneration).toMatchObject({ __typename: 'GenerationAlreadyFinishedError' });
      expect(server.sim.stats.cancels).toBe(1);
    } finally {
      await server.dispose();
    }
  });

  it('asks fal to cancel a running generation, which then ends however fal reports', async () => {
    const server = await startTestServer({ behaviour: { logCount: 2, pauseBefore: 'COMPLETED' } });
    try {
      const { g, result, lastEvent } = await cancelWhileRunning(server);
      expect(result).toMatchObject({ cancelRequested: true, generation: { status: 'IN_PROGRESS' } });
      // This model does not stop once running: fal finishes it and the video is kept.
      server.sim.resume(g.falRequestId!);
      expect(await lastEvent()).toMatchObject({ status: 'COMPLETED' });
    } finally {
      await server.dispose();
    }
  });

  it('records CANCELLED when fal honours the cancel of a running request', async () => {
    const server = await startTestServer({ behaviour: { logCount: 2, pauseBefore: 'COMPLETED', honourCancelWhileRunning: true } });
    try {
      const { g, result, lastEvent } = await cancelWhileRunning(server);
      expect(result.cancelRequested).toBe(true);
      expect(await lastEvent()).toMatchObject({ status: 'CANCELLED' });
      expect((await readGeneration(server, g.id)).error.code).toBe('CANCELLED');
    } finally {
      await server.dispose();
    }
  });

  it('answers unknown and malformed ids with GenerationNotFoundError and changes nothing', async () => {
    const server = await startTestServer();
    try {
      for (const id of ['0190d6a4-0000-7000-8000-000000000000', 'garbage', 'VmlkZW9HZW5lcmF0aW9uOjE=']) {
        const result = await gql(server.url, CANCEL, { id });
        expect(result.errors).toBeUndefined();
        expect(result.data.cancelVideoGeneration.__typename).toBe('GenerationNotFoundError');
        expect(result.data.cancelVideoGeneration.message).toContain(id);
      }
      expect(server.sim.stats.cancels).toBe(0);
      const done = await followToEnd(server, (await generateOk(server)).id);
      expect(done.generation.status).toBe('COMPLETED');
    } finally {
      await server.dispose();
    }
  });
});
