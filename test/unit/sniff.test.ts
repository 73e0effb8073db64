import { describe, expect, it } from 'vitest';
import { createFrameUploads } from '../../src/uploads/index.ts';
import { sniffFrameType } from '../../src/uploads/sniff.ts';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('frame content sniffing', () => {
  it('recognises PNG, JPEG and WebP by their leading bytes only', () => {
    expect(sniffFrameType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0))).toBe('image/png');
    expect(sniffFrameType(bytes(0xff, 0xd8, 0xff, 0xdb))).toBe('image/jpeg');
    expect(sniffFrameType(bytes(0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50))).toBe('image/webp');
  });

  it('refuses everything else, including near misses and truncated headers', () => {
    expect(sniffFrameType(bytes(0x89, 0x50, 0x4e, 0x47))).toBeNull(); // truncated PNG signature
    expect(sniffFrameType(bytes(0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x41, 0x56, 0x45))).toBeNull(); // RIFF WAVE
    expect(sniffFrameType(new TextEncoder().encode('GIF89a'))).toBeNull();
    expect(sniffFrameType(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(sniffFrameType(bytes())).toBeNull();
  });

  it('checks size before reading and hands fal a Blob of the real type under a name of its own', async () => {
    const uploaded: Array<{ type: string; name: string; size: number }> = [];
    const uploads = createFrameUploads({
      maxBytes: 16,
      fal: {
        upload: (file, name) => (uploaded.push({ type: file.type, name, size: file.size }), Promise.resolve(`https://fal.test/${name}`)),
      },
    });
    await expect(uploads.check(new Blob([new Uint8Array(17)]), ['input', 'image'])).rejects.toMatchObject({
      fieldErrors: [{ path: ['input', 'image'], message: 'is too large (17 bytes; the limit is 16 bytes)' }],
    });
    const frame = await uploads.check(new File([bytes(0xff, 0xd8, 0xff, 0xe0, 1, 2)], '../../etc/passwd.png', { type: 'image/png' }), [
      'input',
      'image',
    ]);
    expect(frame.contentType).toBe('image/jpeg');
    const url = await uploads.upload(frame);
    expect(uploaded).toEqual([{ type: 'image/jpeg', name: expect.stringMatching(/^[0-9a-f]{64}\.jpg$/), size: 6 }]);
    expect(url).toBe(`https://fal.test/${uploaded[0].name}`);
  });
});
