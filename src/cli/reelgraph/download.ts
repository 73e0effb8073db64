import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describeCause, ServerError } from './api.ts';

/**
 * Downloads the finished video to `path` (via a temporary file beside it, so a broken download never leaves a
 * truncated file under the final name). The URL is used as the server gave it: archived video URLs need no
 * header, and the server redirects to fal's copy until its own is archived.
 */
export async function download(url: string, path: string): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new ServerError(`cannot download the video from ${url} (${describeCause(error)})`, true);
  }
  if (!response.ok || !response.body)
    throw new ServerError(`downloading the video failed: HTTP ${response.status}`, response.status >= 500);
  const partial = `${path}.part`;
  let bytes = 0;
  const counted = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  counted.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  try {
    await pipeline(counted, createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw new ServerError(`saving the video to ${path} failed: ${(error as Error).message}`, false);
  }
  return bytes;
}
