import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/app.ts';
import { startTestServer } from '../helpers/app.ts';
import { followToEnd, generateOk } from '../helpers/generation.ts';
import { collect, EVENTS_SUBSCRIPTION, gql, wsClient } from '../helpers/graphql.ts';

// VideoGeneration.progress (issue 16, section 2) against the simulator's fixed timings: a queue wait of one
// 200 ms step and a run of two log lines 400 ms apart plus 400 ms to completion (about 1.2 s).

const BEHAVIOUR = { queuePosition: 0, queueStepMs: 200, logCount: 2, logIntervalMs: 400, completeDelayMs: 400 };

const PROGRESS = /* GraphQL */ `
  query Progress($id: ID!) {
    videoGeneration(id: $id) {
      status createdAt startedAt completedAt
      progress { fraction etaSeconds estimatedCompletionAt }
    }
  }
`;

interface Read {
  status: string;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  progress: { fraction: number | null; etaSeconds: number | null; estimatedCompletionAt: string | null };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('progress and ETA', () => {
  let server: TestServer;
  const read = async (id: string): Promise<Read> => {
    const result = await gql(server.url, PROGRESS, { id });
    expect(result.errors).toBeUndefined();
    return result.data.videoGeneration;
  };

  beforeAll(async () => {
    server = await startTestServer({ behaviour: BEHAVIOUR });
  });
  afterAll(() => server?.dispose());

  it('estimates a running generation from 3 completed ones of the same kind; finished ones are at 1', async () => {
    // Another duration is another key: its history does not count for 5-second clips.
    const other = await generateOk(server, { duration: 10, prompt: 'ten seconds' });
    await followToEnd(server, other.id);

    const done = await Promise.all([0, 1, 2].map((i) => generateOk(server, { prompt: `sample ${i}` })));
    await Promise.all(done.map((g) => followToEnd(server, g.id)));
    const samples = await Promise.all(done.map((g) => read(g.id)));
    for (const s of samples) expect(s.progress).toEqual({ fraction: 1, etaSeconds: 0, estimatedCompletionAt: s.completedAt });
    const ms = (a: string | null, b: string | null) => new Date(b!).getTime() - new Date(a!).getTime();
    const waitMs = median(samples.map((s) => ms(s.createdAt, s.startedAt)));
    const runMs = median(samples.map((s) => ms(s.startedAt, s.completedAt)));

    // Held before COMPLETED, so it stays IN_PROGRESS for as long as the test looks at it.
    server.sim.configure({ pauseBefore: 'COMPLETED' });
    const fourth = await generateOk(server, { prompt: 'the fourth' });
    server.sim.configure({ pauseBefore: undefined });
    const client = wsClient(server.url);
    try {
      const events = collect(client, EVENTS_SUBSCRIPTION, { id: fourth.id });
      await events.waitUntil((r) => r.some((p) => p.data?.videoGenerationEvents.status === 'IN_PROGRESS'));
      events.cancel();
    } finally {
      await client.dispose();
    }
    const asked = Date.now();
    const running = await read(fourth.id);
    expect(running.status).toBe('IN_PROGRESS');
    const { fraction, etaSeconds, estimatedCompletionAt } = running.progress;
    expect(fraction).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(1);
    // At most the whole usual run is left (rounded up), and at least a second while it has not finished.
    expect(etaSeconds).toBeGreaterThanOrEqual(1);
    expect(etaSeconds).toBeLessThanOrEqual(Math.max(1, Math.ceil((waitMs + runMs) / 1000)));
    const eta = new Date(estimatedCompletionAt!).getTime();
    expect(eta).toBeGreaterThan(asked);
    // Consistent with etaSeconds (which is rounded up) and with the median run from when it started.
    expect(eta).toBeLessThanOrEqual(Date.now() + etaSeconds! * 1000);
    expect(eta).toBeLessThanOrEqual(Math.max(Date.now() + 1000, new Date(running.startedAt!).getTime() + runMs) + 50);

    // The list reads progress for a whole page too (one batched medians query, not one per row).
    const page = await gql(server.url, '{ videoGenerations(first: 10) { edges { node { id status progress { fraction etaSeconds } } } } }');
    expect(page.errors).toBeUndefined();
    const nodes = page.data.videoGenerations.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toHaveLength(5);
    for (const node of nodes) {
      if (node.id === fourth.id) expect(node.progress.fraction).toBeGreaterThan(0);
      else expect(node.progress).toEqual({ fraction: 1, etaSeconds: 0 });
    }

    server.sim.resume(fourth.falRequestId!);
    await followToEnd(server, fourth.id);
    const finished = await read(fourth.id);
    expect(finished.progress).toEqual({ fraction: 1, etaSeconds: 0, estimatedCompletionAt: finished.completedAt });
  });

  it('says nothing (null) for an active generation of a kind with too little history', async () => {
    server.sim.configure({ pauseBefore: 'IN_PROGRESS' });
    try {
      const lonely = await generateOk(server, { duration: 12, generateAudio: true, prompt: 'a rare kind' });
      expect((await read(lonely.id)).progress).toEqual({ fraction: null, etaSeconds: null, estimatedCompletionAt: null });
      await gql(server.url, 'mutation($id: ID!) { cancelVideoGeneration(id: $id) { __typename } }', { id: lonely.id });
    } finally {
      server.sim.configure({ pauseBefore: undefined });
    }
  });
});
