import { afterEach, describe, expect, it } from 'vitest';
import { createFalConnections, SHORT_REQUEST_CONNECTIONS, type FalConnections } from '../../src/fal/connections.ts';
import { createFalGateway } from '../../src/fal/gateway.ts';
import { createFalSimulator, type FalSimulator, type SimulatorOptions } from '../../src/fal/simulator/index.ts';
import type { FalGateway, FalStatus } from '../../src/fal/types.ts';
import { until } from '../helpers/until.ts';

// The connections the gateway's requests travel on, counted where they arrive: the simulator's TCP accepts. The
// real client talks to the simulator over HTTP, redirected the way the server does it (protocol §10).

const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';
const INPUT = { image_url: 'https://example.com/a.png', prompt: 'a cat' };

let sim: FalSimulator | null = null;
let connections: FalConnections | null = null;
afterEach(async () => {
  await connections?.close();
  connections = null;
  await sim?.stop();
  sim = null;
});

async function start(options: SimulatorOptions) {
  sim = createFalSimulator(options);
  await sim.start();
  connections = createFalConnections();
  const gateway = createFalGateway({ key: null, queueUrl: sim.url, restUrl: sim.url, fetch: connections.fetch });
  return { sim, gateway };
}

const open = (s: FalSimulator, n: number) =>
  until(`${n} open connections`, () => s.stats.openConnections === n, { on: [[s.events, 'connections']] });

/** Opens a status stream and resolves once its first report arrived, with the stream's end and its abort. */
async function follow(gateway: FalGateway, requestId: string) {
  const abort = new AbortController();
  const statuses: FalStatus[] = [];
  let reported: () => void;
  const first = new Promise<void>((resolve) => (reported = resolve));
  const ended = gateway.streamStatus(
    ENDPOINT,
    requestId,
    (batch) => {
      statuses.push(...batch);
      reported();
      return Promise.resolve();
    },
    abort.signal,
  );
  await Promise.race([first, ended]);
  return { statuses, ended, abort: () => abort.abort() };
}

describe('the connections fal requests travel on', () => {
  it('sends every short request on one keep-alive connection, however many status streams are open', async () => {
    // Requests stay queued, so their streams stay open for the whole test.
    const { sim, gateway } = await start({ preset: 'fast', behaviour: { queuePosition: 5, queueStepMs: 3_600_000 } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await gateway.submit(ENDPOINT, INPUT)).requestId);
    // One or two: a request may go out while the last answer's connection is not yet free again.
    const short = sim.stats.connectionsAccepted;
    expect(short).toBeLessThanOrEqual(2);
    const streams = [];
    for (const id of ids) streams.push(await follow(gateway, id));
    expect(sim.stats.openStreams).toBe(3);
    // A connection of its own for each stream.
    expect(sim.stats.connectionsAccepted).toBe(short + 3);
    for (let i = 0; i < 20; i += 1) expect((await gateway.status(ENDPOINT, ids[i % 3], { logs: false })).status).toBe('IN_QUEUE');
    await gateway.submit(ENDPOINT, INPUT);
    // 21 more short requests, on the connections they had.
    expect(sim.stats.connectionsAccepted).toBe(short + 3);
    for (const stream of streams) stream.abort();
    expect(await Promise.all(streams.map((s) => s.ended))).toEqual([null, null, null]);
    // An aborted stream's connection is ended with it; the keep-alive ones stay for the next request.
    await open(sim, short);
  });

  it('opens at most SHORT_REQUEST_CONNECTIONS connections for a burst of short requests, the rest wait their turn', async () => {
    const { sim, gateway } = await start({ preset: 'fast', behaviour: { queuePosition: 5, queueStepMs: 3_600_000 } });
    const { requestId } = await gateway.submit(ENDPOINT, INPUT);
    const burst = 3 * SHORT_REQUEST_CONNECTIONS;
    const answers = await Promise.all(Array.from({ length: burst }, () => gateway.status(ENDPOINT, requestId, { logs: false })));
    expect(answers.filter((a) => a.status === 'IN_QUEUE')).toHaveLength(burst);
    // Unbounded, each request of the burst would have found every connection busy and opened one more.
    expect(sim.stats.connectionsAccepted).toBeLessThanOrEqual(SHORT_REQUEST_CONNECTIONS);
  });

  it("ends a stream's connection when fal closes the stream, instead of keeping it for other requests", async () => {
    const { sim, gateway } = await start({ preset: 'fast' });
    const { requestId } = await gateway.submit(ENDPOINT, INPUT);
    const stream = await follow(gateway, requestId);
    expect((await stream.ended)?.status).toBe('COMPLETED');
    // At once, not after a keep-alive timeout (4 s in undici, 5 s in Node's server): only the submit's stays.
    await until('the stream connection to close', () => sim.stats.openConnections === 1, {
      on: [[sim.events, 'connections']],
      timeoutMs: 2_000,
    });
    // The next request goes on the submit's connection.
    await gateway.status(ENDPOINT, requestId);
    expect(sim.stats.connectionsAccepted).toBe(2);
  });

  it('ends every connection on close, open streams included', async () => {
    const { sim, gateway } = await start({ preset: 'fast', behaviour: { queuePosition: 5, queueStepMs: 3_600_000 } });
    const { requestId } = await gateway.submit(ENDPOINT, INPUT);
    const stream = await follow(gateway, requestId);
    await open(sim, 2);
    await connections!.close();
    await open(sim, 0);
    // The cut stream fails the way a dropped connection does (the tracker then catches up by polling).
    await expect(stream.ended).rejects.toThrow();
  });
});
