import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationEventMap, GenerationEventName } from '../../src/generations/event-map.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { generateOk, rawGenerationId } from '../helpers/generation.ts';

type Seen = { [K in GenerationEventName]: { name: K; payload: GenerationEventMap[K] } }[GenerationEventName];

describe('GenerationEventMap', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.dispose());

  it('tells a listener created, then every transition in order, with the log writes between them', async () => {
    const { events } = server.running.generations;
    const seen: Seen[] = [];
    const record =
      <K extends GenerationEventName>(name: K) =>
      (payload: GenerationEventMap[K]) =>
        seen.push({ name, payload } as Seen);
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const offs = [
      events.on('created', record('created')),
      events.on('submitted', record('submitted')),
      events.on('log', record('log')),
      events.on('transition', record('transition')),
      events.on('transition', (e) => {
        if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(e.status)) finished();
      }),
      // A listener that throws is reported and changes nothing for the generation or the other listeners.
      events.on('transition', () => {
        throw new Error('a broken listener');
      }),
    ];
    try {
      const generation = await generateOk(server);
      const id = rawGenerationId(generation.id);
      await done;
      const mine = seen.filter((e) => e.payload.generationId === id);
      expect(mine[0]).toMatchObject({ name: 'created', payload: { generationId: id, tenantId: 'default' } });
      expect(mine[1]).toMatchObject({ name: 'transition', payload: { status: 'PENDING', sequence: 1 } });
      const submitted = mine.find((e) => e.name === 'submitted');
      expect(submitted?.payload).toMatchObject({ falRequestId: generation.falRequestId });

      const transitions = mine.flatMap((e) => (e.name === 'transition' ? [e.payload] : []));
      // A queued request may report more than one queue position (each a status event, IN_QUEUE again), more
      // often on a loaded machine: the statuses, taken once each, are the lifecycle in order.
      const statuses = transitions.map((t) => t.status).filter((s, i, all) => i === 0 || all[i - 1] !== s);
      expect(statuses).toEqual(['PENDING', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);
      const sequences = mine.flatMap((e) =>
        e.name === 'transition' ? [e.payload.sequence] : e.name === 'log' ? e.payload.lines.map((l) => l.sequence) : [],
      );
      // Every written event reported once, in sequence order, with nothing missing.
      expect(sequences).toEqual(sequences.map((_, i) => i + 1));
      const lines = mine.flatMap((e) => (e.name === 'log' ? e.payload.lines.map((l) => l.message) : []));
      expect(lines).toEqual(server.sim.requests.get(generation.falRequestId!)!.logs.map((l) => l.message));
      // Lines come between IN_PROGRESS and COMPLETED.
      const index = (status: string) => mine.findIndex((e) => e.name === 'transition' && e.payload.status === status);
      const firstLog = mine.findIndex((e) => e.name === 'log');
      expect(firstLog).toBeGreaterThan(index('IN_PROGRESS'));
      expect(firstLog).toBeLessThan(index('COMPLETED'));

      const row = await server.running.database.prisma.generation.findUniqueOrThrow({ where: { id } });
      expect(row.status).toBe('COMPLETED');
      expect(row.lastSequence).toBe(sequences.length);
      await server.waitForLog((r) => String(r.msg).includes('a listener of the generation event "transition" failed: a broken listener'));
    } finally {
      offs.forEach((off) => off());
    }
  });

  it('stops telling a listener once it is removed', async () => {
    const { events } = server.running.generations;
    const created: string[] = [];
    const listener = (e: GenerationEventMap['created']) => created.push(e.generationId);
    events.on('created', listener);
    const first = await generateOk(server);
    events.off('created', listener);
    await generateOk(server);
    expect(created).toEqual([rawGenerationId(first.id)]);
  });
});
