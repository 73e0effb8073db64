import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { generateOk } from '../helpers/generation.ts';
import { collect, gql, wsClient, type Collected } from '../helpers/graphql.ts';
import { settledMemory, stalledSse, stalledWs } from '../helpers/slow-clients.ts';
import { ServerInfoQuery } from '../../src/client/operations.ts';

/**
 * Real sockets that stop reading (issue 12 item 1): the server's buffers for them stay bounded, the slow
 * subscriber is ended (graphql-ws 4429, SSE closed), and the server and every other subscriber carry on.
 * A small subscriber buffer (SUBSCRIPTION_BUFFER_EVENTS) and large frames (the longest prompt, 14 times) keep
 * the number of events needed to a few hundred: the kernel's socket buffers fill first, then the server's.
 */
const PROMPT = 'A slow dolly shot through a rainy neon street. '.repeat(53).slice(0, 2_500);
const FAT = `id status ${Array.from({ length: 14 }, (_, i) => `p${i}: prompt`).join(' ')}`;
const UPDATES = `subscription { videoGenerationUpdated { ${FAT} } }`;
const EVENTS = (id: string) => `subscription { videoGenerationEvents(id: "${id}") { sequence generation { ${FAT} } } }`;
const TOO_SLOW = 'subscriber too slow';
// Far more than the server may hold for one subscriber: hundreds of 37 kB frames go to the slow one.
const MEMORY_BOUND = 24 * 1024 * 1024;

const buses = [
  { name: 'in-process bus', env: (): Record<string, string> => ({}) },
  {
    name: 'Redis',
    env: (): Record<string, string> => ({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: `reelgraph-slow-${randomBytes(4).toString('hex')}:`,
    }),
  },
];

type Watch = Collected<any>;
const completed = (watch: Watch, field: string, id: string) =>
  watch.waitUntil((received) => received.some((r) => r.data?.[field]?.id === id && r.data[field].status === 'COMPLETED'));

// Hundreds of large frames per test through a real server and real sockets: more than the default 30 s on
// a loaded two-core machine, though each step waits on an event.
describe.each(buses)('a subscriber that stops reading ($name)', { timeout: 90_000 }, ({ env }) => {
  let server: TestServer;
  afterEach(() => server?.dispose());

  // The normal subscriber must take each event before a buffer's worth (64) more arrive, or it too is ended as too
  // slow: at 1 ms a line a loaded machine's normal subscriber sometimes was not (64 ms per event); 5 ms gives it 320.
  const start = (logCount: number, pauseBefore?: 'IN_PROGRESS', logIntervalMs = 1) =>
    startTestServer({
      behaviour: { queuePosition: 1, logCount, logIntervalMs, pauseBefore },
      env: { SUBSCRIPTION_BUFFER_EVENTS: '64', ...env() },
    }).then((s) => (server = s));
  const ended = () => server.logs.filter((l) => l.includes(TOO_SLOW));

  /** Generations, a few at a time, until the server has ended the slow subscriber (bounded, so a failure ends). */
  async function driveUntilEnded(watch: Watch) {
    for (let round = 0; round < 40 && ended().length === 0; round += 1) {
      const ids = await Promise.all(Array.from({ length: 3 }, async () => (await generateOk(server, { prompt: PROMPT })).id));
      for (const id of ids) await completed(watch, 'videoGenerationUpdated', id);
    }
    expect(ended(), 'the slow subscriber was never ended').toHaveLength(1);
  }

  /** The server and its other subscribers carry on: one more generation reaches `watch`, and a query is answered. */
  async function carriesOn(watch: Watch) {
    const { id } = await generateOk(server, { prompt: 'after the slow one' });
    await completed(watch, 'videoGenerationUpdated', id);
    const info = await gql(server.url, ServerInfoQuery);
    expect(info.data?.serverInfo.falBackend).toBe('SIMULATOR');
  }

  it('SSE, videoGenerationUpdated: the stream is closed, everyone else carries on, memory stays bounded', async () => {
    await start(40);
    const client = wsClient(server.url);
    try {
      const watch = collect(client, 'subscription { videoGenerationUpdated { id status } }');
      const slow = await stalledSse(server.url, UPDATES);
      const before = await settledMemory();
      await driveUntilEnded(watch);
      expect((await settledMemory()) - before).toBeLessThan(MEMORY_BOUND);
      slow.resume();
      await slow.ended;
      await carriesOn(watch);
    } finally {
      await client.dispose();
    }
  });

  it('graphql-ws, videoGenerationUpdated: the socket is closed with 4429 and a reason, everyone else carries on', async () => {
    await start(40);
    const client = wsClient(server.url);
    try {
      const watch = collect(client, 'subscription { videoGenerationUpdated { id status } }');
      const slow = await stalledWs(server.url, UPDATES);
      await generateOk(server, { prompt: PROMPT });
      await slow.firstEvent;
      const before = await settledMemory();
      await driveUntilEnded(watch);
      expect((await settledMemory()) - before).toBeLessThan(MEMORY_BOUND);
      slow.resume();
      expect(await slow.closed).toEqual({ code: 4429, reason: 'Subscriber too slow' });
      await carriesOn(watch);
    } finally {
      await client.dispose();
    }
  });

  /**
   * One generation with many log lines, followed by a stalled client and by a normal one. fal holds it in its
   * queue until both are subscribed, so its lines arrive live, after the slow client stalled; it has more lines
   * than any socket buffer holds, and the normal subscriber follows until the slow one was ended.
   */
  async function longGeneration(stall: (id: string) => Promise<{ resume(): void; firstEvent?: Promise<void> }>) {
    const { id, falRequestId } = await generateOk(server, { prompt: PROMPT });
    const slow = await stall(id);
    await slow.firstEvent;
    const client = wsClient(server.url);
    try {
      const following = collect(client, `subscription { videoGenerationEvents(id: "${id}") { sequence generation { id status } } }`);
      await following.waitFor(1);
      server.sim.resume(falRequestId!);
      await following.waitUntil(() => ended().length > 0);
      // The normal subscriber carries on past that point, in order and without gaps.
      const seen = following.received.length;
      await following.waitFor(seen + 5);
      const sequences = following.received.map((r) => r.data.videoGenerationEvents.sequence);
      expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    } finally {
      await client.dispose();
    }
    expect(ended()).toHaveLength(1);
    return slow;
  }

  it('SSE, videoGenerationEvents: the stream is closed, a normal subscriber carries on', async () => {
    await start(3_000, 'IN_PROGRESS', 5);
    const slow = await longGeneration((id) => stalledSse(server.url, EVENTS(id)));
    slow.resume();
    await (slow as Awaited<ReturnType<typeof stalledSse>>).ended;
    const info = await gql(server.url, ServerInfoQuery);
    expect(info.data?.serverInfo.falBackend).toBe('SIMULATOR');
  });

  it('graphql-ws, videoGenerationEvents: the socket is closed with 4429, a normal subscriber carries on', async () => {
    await start(3_000, 'IN_PROGRESS', 5);
    const slow = (await longGeneration((id) => stalledWs(server.url, EVENTS(id)))) as Awaited<ReturnType<typeof stalledWs>>;
    slow.resume();
    expect(await slow.closed).toEqual({ code: 4429, reason: 'Subscriber too slow' });
  });
});
