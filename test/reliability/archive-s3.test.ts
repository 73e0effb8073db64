import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createS3Store } from '../../src/archive/s3-store.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { archiveReaches } from '../helpers/archive.ts';
import { followToEnd, generateOk, rawGenerationId, readGeneration } from '../helpers/generation.ts';
import { startS3, type TestS3 } from '../helpers/s3.ts';

const sample = await readFile(new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url));
const sampleSha = createHash('sha256').update(sample).digest('hex');

let s3: TestS3;
let archiveDir: string;
let server: TestServer | null = null;
beforeAll(async () => {
  s3 = await startS3();
  archiveDir = await mkdtemp(join(tmpdir(), 'reelgraph-archive-dir-'));
});
afterEach(async () => {
  await server?.dispose();
  server = null;
});
afterAll(async () => {
  await s3?.dispose();
  await rm(archiveDir, { recursive: true, force: true });
});

async function keys(prefix: string): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/` }));
  return (listed.Contents ?? []).map((c) => c.Key!);
}

/** A generation followed to COMPLETED whose archive reached ARCHIVED; returns its GraphQL view. */
async function archivedGeneration(s: TestServer) {
  const g = await generateOk(s);
  expect((await followToEnd(s, g.id)).generation.status).toBe('COMPLETED');
  await archiveReaches(s, rawGenerationId(g.id), 'ARCHIVED');
  return { id: rawGenerationId(g.id), generation: await readGeneration(s, g.id) };
}

describe('archived videos in an S3-compatible bucket (ARCHIVE_URL)', () => {
  it('uploads the checked video to the bucket (nothing under ARCHIVE_DIR) and streams it back with Range, HEAD and 416', async () => {
    server = await startTestServer({ behaviour: { logCount: 1 }, env: { ...s3.env('proxy'), ARCHIVE_DIR: archiveDir } });
    expect(server.logs.join('\n')).toContain(`archived videos: bucket ${s3.bucket}, prefix proxy/`);
    const { id, generation } = await archivedGeneration(server);
    expect(generation.video.archiveStatus).toBe('ARCHIVED');
    expect(generation.video.sha256).toBe(sampleSha);
    expect(await keys('proxy')).toEqual([`proxy/${id}.mp4`]);
    const row = await server.running.database.prisma.videoOutput.findUniqueOrThrow({ where: { generationId: id } });
    expect(row.archivePath).toBe(`s3://${s3.bucket}/proxy/${id}.mp4`);
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `proxy/${id}.mp4` }));
    expect(object.ContentType).toBe('video/mp4');
    expect(Buffer.from(await object.Body!.transformToByteArray()).equals(sample)).toBe(true);
    expect(await readdir(archiveDir)).toEqual([]);

    // fal's copy is gone: the bytes come from the bucket, through this server.
    await server.sim.stop();
    const url = generation.video.url as string;
    const whole = await fetch(url, { redirect: 'manual' });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await whole.arrayBuffer()).equals(sample)).toBe(true);

    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${sample.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(sample.subarray(100, 200))).toBe(true);
    const tail = await fetch(url, { headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(sample.subarray(sample.length - 10))).toBe(true);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(sample.length));
    const beyond = await fetch(url, { headers: { range: `bytes=${sample.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${sample.length}`);
    expect((await fetch(url, { headers: { range: 'bytes=abc' } })).status).toBe(416);
  });

  it('ARCHIVE_DELIVERY=redirect answers GET with a short-lived presigned URL that serves Range; HEAD and 416 are answered here', async () => {
    server = await startTestServer({
      behaviour: { logCount: 1 },
      env: { ...s3.env('redirect'), ARCHIVE_DELIVERY: 'redirect', ARCHIVE_PRESIGN_TTL_S: '60' },
    });
    const { id, generation } = await archivedGeneration(server);
    const url = generation.video.url as string;
    const redirect = await fetch(url, { redirect: 'manual', headers: { range: 'bytes=10-19' } });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('cache-control')).toContain('no-store');
    expect(redirect.headers.get('x-content-type-options')).toBe('nosniff');
    const location = new URL(redirect.headers.get('location')!);
    expect(location.origin).toBe(s3.endpoint);
    expect(location.pathname).toBe(`/${s3.bucket}/redirect/${id}.mp4`);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

    // Followed (as a browser does, with its Range header), the bucket serves the bytes itself.
    const followed = await fetch(url, { headers: { range: 'bytes=10-19' } });
    expect(followed.status).toBe(206);
    expect(followed.headers.get('content-range')).toBe(`bytes 10-19/${sample.length}`);
    expect(followed.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await followed.arrayBuffer()).equals(sample.subarray(10, 20))).toBe(true);

    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(sample.length));
    const beyond = await fetch(url, { redirect: 'manual', headers: { range: `bytes=${sample.length + 5}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${sample.length}`);
  });

  it('retries while the bucket is unreachable (RETRYING) and archives once it is back', async () => {
    server = await startTestServer({ behaviour: { logCount: 1 }, env: { ...s3.env('outage'), ARCHIVE_RETRY_BASE_MS: '200' } });
    await s3.stop();
    const g = await generateOk(server);
    const id = rawGenerationId(g.id);
    const retrying = archiveReaches(server, id, 'RETRYING');
    expect((await followToEnd(server, g.id)).generation.status).toBe('COMPLETED');
    const failed = await retrying;
    expect(failed.attempts).toBeGreaterThanOrEqual(1);
    expect(failed.error).toBeTruthy();
    expect((await readGeneration(server, g.id)).video.archiveStatus).toBe('RETRYING');
    // While no archive exists, the stable URL sends the client to fal's copy.
    const meanwhile = await fetch((await readGeneration(server, g.id)).video.url, { redirect: 'manual' });
    expect(meanwhile.status).toBe(302);

    const archived = archiveReaches(server, id, 'ARCHIVED');
    await s3.start();
    const done = await archived;
    expect(done.attempts).toBeGreaterThan(failed.attempts);
    const final = await readGeneration(server, g.id);
    expect(final.status).toBe('COMPLETED');
    expect(final.video.sha256).toBe(sampleSha);
    expect(await keys('outage')).toEqual([`outage/${id}.mp4`]);
    expect(Buffer.from(await (await fetch(final.video.url)).arrayBuffer()).equals(sample)).toBe(true);
  });
});

describe('the S3 store', () => {
  const store = () =>
    createS3Store({
      bucket: s3.bucket,
      prefix: 'store',
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });

  it('uploads a large body in parts and reads any range of it', async () => {
    const s = store();
    try {
      const big = Buffer.alloc(20 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
      const chunks = function* () {
        for (let i = 0; i < big.length; i += 256 * 1024) yield big.subarray(i, i + 256 * 1024);
      };
      const location = await s.put('big.mp4', Readable.from(chunks()), { contentType: 'video/mp4' });
      expect(location).toBe(`s3://${s3.bucket}/store/big.mp4`);
      expect(await s.head(location)).toEqual({ size: big.length });
      const start = 9 * 1024 * 1024 - 3;
      const slice = await s.read(location, { start, end: start + 99 });
      const bytes = Buffer.concat(await slice!.toArray());
      expect(bytes.equals(big.subarray(start, start + 100))).toBe(true);
      expect(await s.head(`s3://${s3.bucket}/store/absent.mp4`)).toBeNull();
      expect(await s.head(`s3://another-bucket/store/big.mp4`)).toBeNull();
    } finally {
      s.close();
    }
  });

  it('leaves nothing under the key when the body fails, before or after the first part', async () => {
    const s = store();
    try {
      // 1 KiB (one PutObject would follow) and 10 MiB (past the first 8 MiB part of a multipart upload).
      for (const [name, before] of [
        ['small.mp4', 1024],
        ['multipart.mp4', 10 * 1024 * 1024],
      ] as const) {
        const body = Readable.from(
          (function* () {
            for (let sent = 0; sent < before; sent += 1024) yield Buffer.alloc(1024);
            throw new Error('the download broke');
          })(),
        );
        await expect(s.put(name, body, { contentType: 'video/mp4' })).rejects.toThrow();
        expect(await s.head(`s3://${s3.bucket}/store/${name}`), name).toBeNull();
      }
    } finally {
      s.close();
    }
  });
});

describe('S3 configuration', () => {
  it('parses ARCHIVE_URL and the S3 variables, and names the variable of a bad value without echoing it', () => {
    const archive = loadConfig({
      ARCHIVE_URL: 's3://my-videos/reel/graph/',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'very-secret-value',
    }).archive;
    expect(archive.s3).toEqual({
      bucket: 'my-videos',
      prefix: 'reel/graph',
      endpoint: null,
      region: 'eu-west-1',
      forcePathStyle: false,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret-value' },
    });
    expect(archive.delivery).toBe('proxy');
    expect(loadConfig({ ARCHIVE_URL: 's3://b-1', S3_REGION: 'auto', AWS_REGION: 'eu-west-1' }).archive.s3).toMatchObject({
      bucket: 'b-1',
      prefix: '',
      region: 'auto',
      credentials: null,
    });
    expect(
      loadConfig({ ARCHIVE_URL: 's3://b-1', S3_ENDPOINT: 'http://127.0.0.1:9000/', S3_FORCE_PATH_STYLE: 'true' }).archive.s3,
    ).toMatchObject({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true });
    expect(loadConfig({}).archive.s3).toBeNull();
    for (const [env, variable] of [
      [{ ARCHIVE_URL: 'https://bucket/prefix' }, 'ARCHIVE_URL'],
      [{ ARCHIVE_URL: 's3://Bad_Bucket/x' }, 'ARCHIVE_URL'],
      [{ ARCHIVE_DELIVERY: 'redirect' }, 'ARCHIVE_DELIVERY'],
      [{ ARCHIVE_URL: 's3://b-1', ARCHIVE_DELIVERY: 'sideways' }, 'ARCHIVE_DELIVERY'],
      [{ ARCHIVE_URL: 's3://b-1', S3_ENDPOINT: 'minio:9000' }, 'S3_ENDPOINT'],
    ] as const) {
      const error = (() => {
        try {
          loadConfig(env);
        } catch (e) {
          return e;
        }
      })();
      expect(error, variable).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message, variable).toContain(variable);
      expect((error as ConfigError).message, variable).not.toContain('Bad_Bucket');
    }
  });
});
