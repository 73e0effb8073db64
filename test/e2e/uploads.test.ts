import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/app.ts';

// Smallest valid-looking headers of each format; the server checks leading bytes only.
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]);
const WEBP = Buffer.from([0x52, 0x49, 0x46, 0x46, 4, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20]);
const padded = (head: Buffer, size: number) => Buffer.concat([head, Buffer.alloc(Math.max(0, size - head.length), 7)]);

const GENERATE = `mutation Generate($input: GenerateVideoInput!) {
  generateVideo(input: $input) {
    __typename
    ... on GenerateVideoSuccess { generation { id imageUrl endImageUrl } }
    ... on InputValidationError { message fieldErrors { path message } }
  }
}`;

interface Upload {
  field: 'image' | 'endImage';
  bytes: Buffer;
  name: string;
  type?: string;
}

/** A GraphQL multipart request (https://github.com/jaydenseric/graphql-multipart-request-spec), as a browser or the CLI sends it. */
async function generateWithFiles(url: string, input: Record<string, unknown>, uploads: Upload[]) {
  const form = new FormData();
  const variables = { input: { ...input, ...Object.fromEntries(uploads.map((u) => [u.field, null])) } };
  form.set('operations', JSON.stringify({ query: GENERATE, variables }));
  form.set('map', JSON.stringify(Object.fromEntries(uploads.map((u, i) => [String(i), [`variables.input.${u.field}`]]))));
  uploads.forEach((u, i) =>
    form.set(String(i), new Blob([new Uint8Array(u.bytes)], { type: u.type ?? 'application/octet-stream' }), u.name),
  );
  const response = await fetch(url, { method: 'POST', body: form, headers: { 'x-graphql-yoga-csrf': 'reelgraph' } });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data?: { generateVideo: any }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data?.generateVideo;
}

describe('frame uploads (GraphQL multipart)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_UPLOAD_BYTES: String(1536 * 1024) } });
  });
  afterAll(() => server?.dispose());

  it('uploads start and end frames through fal storage and submits their URLs', async () => {
    const before = server.sim.stats.uploads;
    const start = padded(PNG, 4096);
    const result = await generateWithFiles(server.url, { prompt: 'walk', duration: 5 }, [
      { field: 'image', bytes: start, name: 'start.png', type: 'image/png' },
      { field: 'endImage', bytes: JPEG, name: 'end.jpg', type: 'image/jpeg' },
    ]);
    expect(result.__typename).toBe('GenerateVideoSuccess');
    expect(server.sim.stats.uploads - before).toBe(2);
    const { imageUrl, endImageUrl } = result.generation;
    // The client's file name is not trusted: the stored name is ours, with the extension of the real type.
    expect(imageUrl).toMatch(/\.png$/);
    expect(imageUrl).not.toContain('start');
    expect(endImageUrl).toMatch(/\.jpg$/);
    const served = await fetch(imageUrl);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer()).equals(start)).toBe(true);
  });

  it('goes by content, not by name or declared type', async () => {
    const webp = await generateWithFiles(server.url, { prompt: 'walk' }, [
      { field: 'image', bytes: WEBP, name: 'frame.txt', type: 'text/plain' },
    ]);
    expect(webp.__typename).toBe('GenerateVideoSuccess');
    expect(webp.generation.imageUrl).toMatch(/\.webp$/);

    const before = server.sim.stats.uploads;
    const fake = await generateWithFiles(server.url, { prompt: 'walk' }, [
      { field: 'image', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), name: 'start.png', type: 'image/png' },
      { field: 'endImage', bytes: Buffer.from('GIF89a......'), name: 'end.jpg', type: 'image/jpeg' },
    ]);
    expect(fake.__typename).toBe('InputValidationError');
    expect(fake.fieldErrors).toEqual([
      { path: ['input', 'image'], message: 'must be a PNG, JPEG or WebP image' },
      { path: ['input', 'endImage'], message: 'must be a PNG, JPEG or WebP image' },
    ]);
    expect(server.sim.stats.uploads).toBe(before);
  });

  it('enforces the size limit (MAX_UPLOAD_BYTES) and accepts files larger than the JSON body limit', async () => {
    const before = server.sim.stats.uploads;
    const tooLarge = await generateWithFiles(server.url, { prompt: 'walk' }, [
      { field: 'image', bytes: padded(PNG, 1536 * 1024 + 1), name: 'a.png' },
    ]);
    expect(tooLarge.__typename).toBe('InputValidationError');
    expect(tooLarge.fieldErrors[0].path).toEqual(['input', 'image']);
    expect(tooLarge.fieldErrors[0].message).toMatch(/too large .*limit is 1572864 bytes/);
    const empty = await generateWithFiles(server.url, { prompt: 'walk' }, [{ field: 'image', bytes: Buffer.alloc(0), name: 'a.png' }]);
    expect(empty.fieldErrors).toEqual([{ path: ['input', 'image'], message: 'is empty' }]);
    expect(server.sim.stats.uploads).toBe(before);

    // 1.5 MB: above MAX_BODY_BYTES (1 MB), which applies to JSON documents, not to multipart uploads.
    const large = await generateWithFiles(server.url, { prompt: 'walk' }, [
      { field: 'image', bytes: padded(PNG, 1536 * 1024), name: 'a.png' },
    ]);
    expect(large.__typename).toBe('GenerateVideoSuccess');
    expect(server.sim.stats.uploads).toBe(before + 1);
  });

  it('wants exactly one of imageUrl and image, and checks the whole input before uploading anything', async () => {
    const before = server.sim.stats.uploads;
    const both = await generateWithFiles(server.url, { prompt: 'walk', imageUrl: 'https://example.com/a.png' }, [
      { field: 'image', bytes: PNG, name: 'a.png' },
    ]);
    expect(both.fieldErrors).toEqual([{ path: ['input', 'image'], message: 'give either imageUrl or image, not both' }]);

    const badPrompt = await generateWithFiles(server.url, { prompt: ' ', duration: 99 }, [
      { field: 'image', bytes: PNG, name: 'a.png' },
      { field: 'endImage', bytes: PNG, name: 'b.png' },
    ]);
    expect(badPrompt.__typename).toBe('InputValidationError');
    expect(badPrompt.fieldErrors.map((e: { path: string[] }) => e.path.join('.')).sort()).toEqual(['input.duration', 'input.prompt']);
    expect(server.sim.stats.uploads).toBe(before);

    const neither = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: GENERATE, variables: { input: { prompt: 'walk' } } }),
    }).then((r) => r.json() as Promise<{ data: { generateVideo: any } }>);
    expect(neither.data.generateVideo.fieldErrors).toEqual([
      { path: ['input', 'imageUrl'], message: 'give either imageUrl or image (an uploaded file)' },
    ]);
  });

  it('a retry with the same idempotency key and the same file returns the same generation without uploading again', async () => {
    const before = server.sim.stats.uploads;
    const frame = padded(PNG, 3000);
    const first = await generateWithFiles(server.url, { prompt: 'once', idempotencyKey: 'upload-retry-1' }, [
      { field: 'image', bytes: frame, name: 'a.png' },
    ]);
    expect(first.__typename).toBe('GenerateVideoSuccess');
    const retry = await generateWithFiles(server.url, { prompt: 'once', idempotencyKey: 'upload-retry-1' }, [
      { field: 'image', bytes: frame, name: 'b.png' },
    ]);
    expect(retry.generation).toEqual(first.generation);
    expect(server.sim.stats.uploads - before).toBe(1);

    const otherFrame = await generateWithFiles(server.url, { prompt: 'once', idempotencyKey: 'upload-retry-1' }, [
      { field: 'image', bytes: padded(PNG, 3001), name: 'a.png' },
    ]);
    expect(otherFrame.__typename).toBe('IdempotencyKeyConflictError');
  });

  it('refuses a File given as a literal or a plain variable value', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: GENERATE, variables: { input: { prompt: 'walk', image: 'data:image/png;base64,iVBORw0KGgo=' } } }),
    });
    const body = (await response.json()) as { errors?: Array<{ message: string }> };
    expect(body.errors?.[0].message).toMatch(/multipart request/);
  });
});
