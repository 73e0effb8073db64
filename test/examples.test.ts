import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, finishedVideos, follow } from '../examples/typed-client.ts';
import { startTestServer, type TestServer } from './helpers/app.ts';
import { generateOk } from './helpers/generation.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.dispose());

it("the README's typed urql client runs against a real server", async () => {
  const { client, close } = connect(server.url);
  try {
    const { id } = await generateOk(server, { prompt: 'typed' });
    const lines: string[] = [];
    expect(await follow(client, id, (line) => lines.push(line))).toBe('COMPLETED');
    expect(lines[0]).toBe('#1 PENDING');
    expect(lines).toContain('#2 IN_QUEUE');
    expect(lines.at(-1)).toMatch(/^#\d+ COMPLETED$/);
    const videos = await finishedVideos(client);
    expect(videos[0]).toMatchObject({ id, status: 'COMPLETED', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/videos\//) });
  } finally {
    await close();
  }
});

it('the README shows the compiled example verbatim', async () => {
  const example = await readFile(new URL('../examples/typed-client.ts', import.meta.url), 'utf8');
  const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion\n/.exec(example)![1];
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  expect(readme).toContain('```ts\n' + region + '```\n');
});
