import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, createFalClient } from '@fal-ai/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator, type SimulatorOptions } from '../../src/fal/simulator/index.ts';
import { until } from '../helpers/until.ts';

const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';
const INPUT = { image_url: 'https://example.com/a.png', prompt: 'a cat', duration: '5' } as const;

let dir: string;
const sims: FalSimulator[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelgraph-sim-state-'));
});
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.stop();
  await rm(dir, { recursive: true, force: true });
});

async function start(options: SimulatorOptions = {}) {
  const warnings: string[] = [];
  const sim = createFalSimulator({ preset: 'fast', stateDir: dir, warn: (line) => warnings.push(line), ...options });
  sims.push(sim);
  await sim.start();
  // The real client, redirected as the server does it; it reads the origin at each call, like a new process would.
  const fal = createFalClient({
    credentials: 'test-key',
    requestMiddleware: (request) =>
      Promise.resolve({ ...request, url: request.url.replace(/^https:\/\/queue\.fal\.run|^https:\/\/rest\.fal\.ai/, sim.url) }),
  });
  return { sim, fal, warnings };
}

async function stop(sim: FalSimulator) {
  await sim.stop();
  sims.splice(sims.indexOf(sim), 1);
}

function logsSeen(sim: FalSimulator, n: number) {
  return until(`${n} log lines at the simulator`, () => (sim.requests.values().next().value?.logs.length ?? 0) >= n, {
    on: [[sim.events, 'log']],
  });
}

const jobFile = (id: string) => join(dir, 'requests', `${id}.json`);

describe('a simulator that keeps its state in a directory', () => {
  it('carries on with a job after a restart on the same directory, on the same port, telling the same story', async () => {
    const first = await start({ behaviour: { queuePosition: 1, logCount: 6, logIntervalMs: 60 } });
    const { request_id: id } = await first.fal.queue.submit(ENDPOINT, { input: INPUT });
    await logsSeen(first.sim, 2);
    const origin = first.sim.url;
    const before = first.sim.requests.get(id)!.logs.map((l) => ({ ...l }));
    await stop(first.sim);

    const second = await start();
    expect(second.sim.url).toBe(origin);
    expect(second.sim.requests.get(id)?.status).not.toBe('IN_QUEUE');
    await second.fal.queue.subscribeToStatus(ENDPOINT, { requestId: id, logs: true });
    const job = second.sim.requests.get(id)!;
    expect(job.status).toBe('COMPLETED');
    expect(job.logs.map((l) => l.message)).toEqual([1, 2, 3, 4, 5, 6].map((n) => expect.stringContaining(`(${n}/6)`)));
    // The lines told before the restart are told again exactly (a tracker dedupes by content).
    expect(job.logs.slice(0, before.length)).toEqual(before);
    const result = await second.fal.queue.result(ENDPOINT, { requestId: id });
    const video = result.data.video;
    expect(video.url.startsWith(origin)).toBe(true);
    const file = await fetch(video.url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('video/mp4');
    expect(second.warnings).toEqual([]);
  });

  it('replays at once the steps a job missed while nothing ran, stamped when they were due', async () => {
    const first = await start({ behaviour: { queuePosition: 0, logCount: 4, logIntervalMs: 1000, completeDelayMs: 1000 } });
    const { request_id: id } = await first.fal.queue.submit(ENDPOINT, { input: INPUT });
    // The job may have started before submit's answer arrived: look at its state before waiting for a change.
    await until(`request ${id} to leave IN_QUEUE`, () => first.sim.requests.get(id)?.status !== 'IN_QUEUE', {
      on: [[first.sim.events, 'status-change']],
    });
    expect(first.sim.requests.get(id)!.status).toBe('IN_PROGRESS');
    await stop(first.sim);
    // As if the simulator had been down for a minute since the job started.
    const kept = JSON.parse(await readFile(jobFile(id), 'utf8'));
    const startedAt = Date.now() - 60_000;
    await writeFile(jobFile(id), JSON.stringify({ ...kept, status: 'IN_PROGRESS', logs: [], startedAt, lastStepAt: startedAt }));

    const second = await start();
    await second.fal.queue.subscribeToStatus(ENDPOINT, { requestId: id, logs: true });
    const job = second.sim.requests.get(id)!;
    expect(job.status).toBe('COMPLETED');
    expect(job.logs.map((l) => new Date(`${l.timestamp}Z`).getTime())).toEqual([1, 2, 3, 4].map((n) => startedAt + n * 1000));
    // After the last line: one more log interval, then completeDelayMs (as when live): 6 s from the start.
    const status = await second.fal.queue.status(ENDPOINT, { requestId: id });
    expect(status).toMatchObject({ status: 'COMPLETED', metrics: { inference_time: 6 } });
  });

  it('sets aside a corrupt or partial job file with a warning and carries on with the others', async () => {
    const first = await start({ behaviour: { pauseBefore: 'COMPLETED' } });
    const { request_id: good } = await first.fal.queue.submit(ENDPOINT, { input: INPUT });
    await logsSeen(first.sim, 5);
    await stop(first.sim);
    const partialId = '00000000-0000-4000-8000-000000000001';
    const text = await readFile(jobFile(good), 'utf8');
    await writeFile(jobFile(partialId), text.replaceAll(good, partialId).slice(0, 40));
    await writeFile(join(dir, 'requests', 'garbage.json'), '\u0000\u0001 not json');
    // A write a crash interrupted: the job's previous state is still whole.
    await writeFile(`${jobFile(good)}.tmp`, '{"id":');

    const second = await start();
    expect(second.warnings).toHaveLength(2);
    expect(second.warnings.join('\n')).toContain(`${partialId}.json is unreadable (corrupt or partial)`);
    expect(second.warnings.join('\n')).toContain('garbage.json is unreadable');
    expect((await readdir(join(dir, 'requests'))).sort()).toEqual(
      [`${good}.json`, `${partialId}.json.corrupt`, 'garbage.json.corrupt'].sort(),
    );
    const missing = await second.fal.queue.status(ENDPOINT, { requestId: partialId }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError<unknown>).status).toBe(404);
    second.sim.resume(good);
    await second.fal.queue.subscribeToStatus(ENDPOINT, { requestId: good });
    expect(second.sim.requests.get(good)!.status).toBe('COMPLETED');
  });

  it('keeps uploaded files across a restart', async () => {
    const first = await start();
    const url = await first.fal.storage.upload(new Blob([Buffer.from('frame bytes')], { type: 'image/png' }));
    await stop(first.sim);
    await start();
    const file = await fetch(url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(await file.text()).toBe('frame bytes');
    // Tokens are looked up, never used as paths.
    expect((await fetch(url.replace(/uploads\/[^/]+\//, 'uploads/..%2F..%2Fstate.json/'))).status).toBe(404);
  });

  it('sends again after a restart a webhook that was not delivered yet', async () => {
    const answers = [500];
    const bodies: string[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(answers.shift() ?? 200).end();
        hook.emit('delivery');
      });
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    try {
      const webhookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      // The retry after the failed first attempt would come a minute later: the restart comes first.
      const first = await start({ webhookRetry: { attempts: 5, baseDelayMs: 60_000 } });
      const { request_id: id } = await first.fal.queue.submit(ENDPOINT, { input: INPUT, webhookUrl });
      await once(hook, 'delivery');
      await stop(first.sim);
      const second = await start({ webhookRetry: { attempts: 5, baseDelayMs: 60_000 } });
      await once(hook, 'delivery');
      expect(bodies).toHaveLength(2);
      expect(bodies[1]).toBe(bodies[0]);
      expect(JSON.parse(bodies[1])).toMatchObject({ request_id: id, status: 'OK' });
      expect(second.sim.requests.get(id)!.status).toBe('COMPLETED');
    } finally {
      hook.close();
    }
  });

  it('is held by one simulator at a time', async () => {
    await start();
    const other = createFalSimulator({ preset: 'fast', stateDir: dir });
    await expect(other.start()).rejects.toThrow(`the fal simulator's state in ${dir} is in use by process ${process.pid}`);
    await other.stop();
  });
});
