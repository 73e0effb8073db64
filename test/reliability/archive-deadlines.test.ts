import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { followToEnd, generateOk, rawGenerationId, readGeneration } from '../helpers/generation.ts';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.dispose();
  server = null;
});

const sample = await readFile(new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url));

/** Waits (on the archiver's own completion signal) until the archive of a generation is final. */
async function archived(s: TestServer, id: string) {
  await s.running.archiver.settled(rawGenerationId(id));
  return readGeneration(s, id);
}

describe('archived outputs', () => {
  it('copies the video with its size and sha256 checked and serves it at a stable URL with Range support', async () => {
    server = await startTestServer({ behaviour: { logCount: 1 } });
    const g = await generateOk(server);
    const { generation } = await followToEnd(server, g.id);
    expect(generation.status).toBe('COMPLETED');
    const video = (await archived(server, g.id)).video;
    expect(video.archiveStatus).toBe('ARCHIVED');
    expect(video.sha256).toBe(createHash('sha256').update(sample).digest('hex'));
    expect(video.sourceUrl.startsWith(server.sim.url)).toBe(true);
    // Signed, so a <video src> works without an API key header (see test/security).
    expect(video.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/videos\/[0-9a-f-]{36}\.mp4\?expires=\d+&sig=[A-Za-z0-9_-]+$/);

    // fal's copy disappears: ours still serves.
    await server.sim.stop();
    const whole = await fetch(video.url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(sample)).toBe(true);

    const part = await fetch(video.url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${sample.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(sample.subarray(100, 200))).toBe(true);

    const tail = await fetch(video.url, { headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(sample.subarray(sample.length - 10))).toBe(true);

    for (const bad of ['bytes=abc', 'pages=1-2', 'bytes=50-10', 'bytes=']) {
      const response = await fetch(video.url, { headers: { range: bad } });
      expect(response.status, bad).toBe(416);
      expect(await response.text(), bad).toMatch(/Malformed Range header/);
    }
    const beyond = await fetch(video.url, { headers: { range: `bytes=${sample.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${sample.length}`);

    const head = await fetch(video.url, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(sample.length));
    expect((await fetch(video.url.replace(/[0-9a-f-]{36}/, '00000000-0000-7000-8000-000000000000'))).status).toBe(404);
  });

  it('retries a failed archive with backoff, shows it, and keeps the generation COMPLETED', async () => {
    server = await startTestServer({ behaviour: { logCount: 1 } });
    server.sim.failNext('file', { status: 503, body: { detail: 'CDN hiccup' } }, 2);
    const g = await generateOk(server);
    const { generation } = await followToEnd(server, g.id);
    expect(generation.status).toBe('COMPLETED');
    const final = await archived(server, g.id);
    expect(final.status).toBe('COMPLETED');
    const row = await server.running.database.prisma.videoOutput.findFirstOrThrow();
    expect(row.archiveAttempts).toBe(3);
    expect(row.archiveError).toBeNull();
  });

  it("redirects to fal's URL until the archive exists, and reports FAILED after the last attempt", async () => {
    server = await startTestServer({ behaviour: { logCount: 1 }, env: { ARCHIVE_MAX_ATTEMPTS: '2' } });
    server.sim.failNext('file', { status: 503, body: { detail: 'gone' } }, 10);
    const g = await generateOk(server);
    await followToEnd(server, g.id);
    const final = await archived(server, g.id);
    expect(final.status).toBe('COMPLETED');
    expect(final.video.archiveStatus).toBe('FAILED');
    const response = await fetch(final.video.url, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(final.video.sourceUrl);
  });
});

describe('deadlines', () => {
  it('cancels at fal and fails with DEADLINE_EXCEEDED when the overall deadline passes', async () => {
    server = await startTestServer({ behaviour: { logCount: 1, pauseBefore: 'COMPLETED' }, env: { GENERATION_DEADLINE_S: '1' } });
    const g = await generateOk(server);
    const { generation } = await followToEnd(server, g.id);
    expect(generation.status).toBe('FAILED');
    expect(generation.error.code).toBe('DEADLINE_EXCEEDED');
    expect(server.sim.stats.cancels).toBe(1);
  });

  it('passes the start timeout to fal, whose 504 becomes FAL_START_TIMEOUT', async () => {
    server = await startTestServer({ behaviour: { queuePosition: 100, queueStepMs: 1000 }, env: { FAL_START_TIMEOUT_S: '2' } });
    const g = await generateOk(server);
    expect(server.sim.requests.get(g.falRequestId!)!.headers['x-fal-request-timeout']).toBe('2');
    const { generation } = await followToEnd(server, g.id);
    expect(generation.status).toBe('FAILED');
    expect(generation.error.code).toBe('FAL_START_TIMEOUT');
  });
});
