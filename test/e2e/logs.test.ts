import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { rawGenerationId } from '../helpers/generation.ts';
import { collectSse, EVENTS_SUBSCRIPTION, GENERATE } from '../helpers/graphql.ts';
import { isAccessLine, parseLogLines } from '../helpers/logs.ts';
import { runServerToExit, spawnServer, type ServerProcess } from '../helpers/process.ts';

const PROBE = fileURLToPath(new URL('../helpers/output-on-signal.ts', import.meta.url));
let server: ServerProcess | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server?.exited;
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('LOG_FORMAT=json, the real server process', () => {
  it('prints nothing but JSON lines from start to shutdown, with the context of each generation and request', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'reelgraph-logs-'));
    // Its own simulator (no FAL_KEY), as `npm start` runs on a laptop: the simulator's banner is logged too.
    server = await spawnServer({ LOG_FORMAT: 'json', PORT: '0', DATA_DIR: dataDir, SIMULATOR_PRESET: 'fast' }, ['--import', PROBE]);
    const s = server;

    // What a dependency prints by itself (a Node warning, console output) comes out as log lines.
    s.child.kill('SIGUSR2');
    await s.waitForOutput(/probe warning from the logs test/);
    await s.waitForOutput(/probe console output from the logs test/);

    const requestId = 'logs-test/generation 1';
    const response = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ query: GENERATE, variables: { input: { imageUrl: 'https://example.com/a.png', prompt: 'a cat walks' } } }),
    });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const generation = ((await response.json()) as { data: { generateVideo: { generation: { id: string; falRequestId: string } } } }).data
      .generateVideo.generation;
    const events = await collectSse(s.url, EVENTS_SUBSCRIPTION, { id: generation.id });
    expect(events.at(-1)?.data.videoGenerationEvents.status).toBe('COMPLETED');
    expect((await fetch(new URL('/healthz', s.url))).status).toBe(200);
    const id = rawGenerationId(generation.id);
    await s.waitForOutput(new RegExp(`generation ${id}: COMPLETED`));

    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });

    // Every line of both streams is a JSON object with level, time and msg (parseLogLines throws otherwise).
    expect(s.stderr()).toBe('');
    const records = parseLogLines(s.stdout());
    for (const r of records) expect(Number.isNaN(Date.parse(r.time))).toBe(false);
    const messages = records.map((r) => r.msg);
    for (const expected of [/SIMULATOR in use/, /listening on http:\/\/\S+\/graphql, dashboard at http:\/\/\S+\//, /SIGTERM received/]) {
      expect(
        messages.some((m) => expected.test(m)),
        String(expected),
      ).toBe(true);
    }
    expect(records).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'DeprecationWarning: probe warning from the logs test' }));
    expect(records).toContainEqual(expect.objectContaining({ level: 'error', msg: 'probe console output from the logs test' }));

    // Generation lines carry the generation, its fal request and its tenant; those its request caused, its id.
    const lines = records.filter((r) => r.generationId === id);
    expect(lines.map((r) => r.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/submitted to fal/), expect.stringMatching(/COMPLETED/)]),
    );
    for (const r of lines)
      expect(r).toMatchObject({ generationId: id, falRequestId: generation.falRequestId, tenantId: expect.any(String), requestId });
    expect(records.find(isAccessLine(requestId))).toMatchObject({
      level: 'info',
      method: 'POST',
      path: '/graphql',
      status: 200,
      durationMs: expect.any(Number),
    });
    expect(records.filter((r) => r.path === '/healthz')).toHaveLength(1);
  }, 120_000);

  it('reports a bad configuration as one JSON line naming every variable (never a value), and exits 1', async () => {
    const run = await runServerToExit({
      LOG_FORMAT: 'json',
      PORT: 'not-a-port',
      DATABASE_URL: 'mysql://user:hunter2-password@db/x',
      LOG_LEVEL: 'loud',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const [line, ...rest] = parseLogLines(run.stdout);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'error', msg: expect.stringContaining('Invalid configuration') });
    expect((line.issues as string[]).map((i) => i.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'PORT']);
    expect(run.stdout).not.toContain('hunter2');
  }, 60_000);
});
