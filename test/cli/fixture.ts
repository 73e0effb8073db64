import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/app.ts';

export const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(2000, 1)]);
export const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(500, 2)]);
export const SAMPLE = new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url);

export interface CliFixture {
  server: TestServer;
  /** A working directory with start.png, end.jpg and notes.txt (not an image). */
  dir: string;
  /** REELGRAPH_SERVER pointing at the server. */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/** A real server plus a directory of frames for the CLI to upload. */
export async function cliFixture(): Promise<CliFixture> {
  const server = await startTestServer();
  const dir = await mkdtemp(join(tmpdir(), 'reelgraph-cli-'));
  await writeFile(join(dir, 'start.png'), PNG);
  await writeFile(join(dir, 'end.jpg'), JPEG);
  await writeFile(join(dir, 'notes.txt'), 'not an image');
  return {
    server,
    dir,
    env: { REELGRAPH_SERVER: server.url },
    dispose: async () => {
      await server.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
