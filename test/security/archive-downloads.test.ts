import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import {
  createDownloader,
  DownloadRefusedError,
  FAL_OUTPUT_HOSTS,
  hostMatches,
  isPublicAddress,
} from '../../src/archive/download-policy.ts';
import { pythonJson } from '../../src/fal/simulator/index.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { archiveReaches } from '../helpers/archive.ts';
import { generateOk, rawGenerationId, readGeneration } from '../helpers/generation.ts';
import { collect, EVENTS_SUBSCRIPTION, wsClient } from '../helpers/graphql.ts';

const sample = await readFile(new URL('../../src/fal/simulator/assets/sample.mp4', import.meta.url));

let server: TestServer | null = null;
const servers: Server[] = [];
afterEach(async () => {
  await server?.dispose();
  server = null;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A local HTTP server that counts the connections it is sent; `handler` answers. */
async function localServer(handler: Parameters<typeof createServer>[1]): Promise<{ origin: string; connections: () => number }> {
  const s = createServer(handler);
  let connections = 0;
  s.on('connection', () => void (connections += 1));
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  servers.push(s);
  return { origin: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, connections: () => connections };
}

/**
 * A generation whose fal output is `video`: fal's webhook (signed with the simulator's key) delivers it while
 * the request runs, and since the result has expired by completion (`resultExpired`), the webhook's output is
 * the one recorded, as with real fal. Resolves once the request was let complete.
 */
async function completeWith(s: TestServer, video: Record<string, unknown>, created?: Awaited<ReturnType<typeof generateOk>>) {
  const g = created ?? (await generateOk(s));
  const client = wsClient(s.url);
  await collect(client, EVENTS_SUBSCRIPTION, { id: g.id }).waitUntil((r) => r.some((p) => p.data.videoGenerationEvents.log));
  await client.dispose();
  const requestId = g.falRequestId!;
  const body = pythonJson({ request_id: requestId, gateway_request_id: requestId, status: 'OK', error: null, payload: { video } });
  const response = await fetch(s.url.replace(/\/graphql$/, '/webhooks/fal'), {
    method: 'POST',
    headers: s.sim.signWebhook(body, requestId),
    body,
  });
  expect(response.status).toBe(200);
  s.sim.resume(requestId);
  return { id: rawGenerationId(g.id), globalId: g.id, requestId };
}

const paused = { logCount: 1, pauseBefore: 'COMPLETED' as const, resultExpired: true };

describe('archive downloads follow an allow-list of hosts and public addresses', () => {
  it("refuses a host that is neither fal's nor in ARCHIVE_ALLOWED_HOSTS: FAILED at once, not retried, the generation COMPLETED", async () => {
    server = await startTestServer({ behaviour: paused });
    const { id, globalId } = await completeWith(server, { url: 'https://evil.example/x.mp4', content_type: 'video/mp4' });
    const failed = await archiveReaches(server, id, 'FAILED');
    expect(failed.attempts).toBe(1);
    expect(failed.error).toBe('refused to download from evil.example: not a fal host or in ARCHIVE_ALLOWED_HOSTS');
    const generation = await readGeneration(server, globalId);
    expect(generation.status).toBe('COMPLETED');
    expect(generation.video.archiveStatus).toBe('FAILED');
    // Nor is a refused URL where the stable URL sends anyone.
    expect((await fetch(generation.video.url, { redirect: 'manual' })).status).toBe(404);
  });

  it('refuses private, loopback, link-local and metadata addresses even on an allowed host, checked after DNS', async () => {
    // Listed, but each resolves (or is) a non-public address: loopback under another name than the fal origin,
    // a private IPv4, the cloud metadata address.
    server = await startTestServer({ behaviour: paused, env: { ARCHIVE_ALLOWED_HOSTS: 'localhost, 10.1.2.3,169.254.169.254' } });
    const port = new URL(server.sim.url).port;
    const cases: Array<[string, RegExp]> = [
      [
        `http://localhost:${port}/files/output/x/output.mp4`,
        /^refused to download from localhost: it resolves to (127\.0\.0\.1|::1), not a public address$/,
      ],
      ['http://10.1.2.3/x.mp4', /^refused to download from 10\.1\.2\.3: not a public address$/],
      ['http://169.254.169.254/latest/meta-data/iam', /^refused to download from 169\.254\.169\.254: not a public address$/],
    ];
    for (const [url, expected] of cases) {
      const { id } = await completeWith(server, { url });
      const failed = await archiveReaches(server, id, 'FAILED');
      expect(failed.attempts, url).toBe(1);
      expect(failed.error, url).toMatch(expected);
    }
  });

  it('ARCHIVE_ALLOWED_HOSTS extends the list (exact names and *. wildcards); without it the same host is refused as unlisted', async () => {
    server = await startTestServer({ behaviour: paused });
    const { id } = await completeWith(server, { url: `http://localhost:${new URL(server.sim.url).port}/files/output/x/output.mp4` });
    expect((await archiveReaches(server, id, 'FAILED')).error).toMatch(
      /^refused to download from localhost:\d+: not a fal host or in ARCHIVE_ALLOWED_HOSTS$/,
    );

    const policy = (extra: string[]) =>
      createDownloader({ allowedHosts: [...FAL_OUTPUT_HOSTS, ...extra], falOrigins: ['https://queue.fal.run', 'https://rest.fal.ai'] });
    const defaults = policy([]);
    for (const ok of [
      'https://v3b.fal.media/files/b/x.mp4',
      'https://fal.media/x.mp4',
      'https://V3.FAL.MEDIA./x.mp4',
      'https://queue.fal.run/x',
      'https://rest.fal.ai/x',
    ])
      expect(defaults.refusal(ok), ok).toBeNull();
    for (const bad of [
      'https://fal.media.evil.example/x',
      'https://notfal.media/x',
      'https://cdn.example.com/x',
      'ftp://v3b.fal.media/x',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(defaults.refusal(bad), bad).toMatch(/^(refused to download|the download URL is not a valid URL)/);
    }
    const extended = policy(loadConfig({ ARCHIVE_ALLOWED_HOSTS: '*.cdn.example.com, Videos.Example.org' }).archive.allowedHosts);
    expect(extended.refusal('https://a.cdn.example.com/x.mp4')).toBeNull();
    expect(extended.refusal('https://a.b.cdn.example.com/x.mp4')).toBeNull();
    expect(extended.refusal('https://videos.example.org/x.mp4')).toBeNull();
    expect(extended.refusal('https://cdn.example.com/x.mp4')).toMatch(/not a fal host/);
    expect(extended.refusal('https://v3b.fal.media/x.mp4')).toBeNull();
    expect(hostMatches('evilcdn.example.com', ['*.cdn.example.com'])).toBe(false);
    expect(() => loadConfig({ ARCHIVE_ALLOWED_HOSTS: 'https://x.example.com/' })).toThrow(ConfigError);
    expect(() => loadConfig({ ARCHIVE_ALLOWED_HOSTS: 'https://x.example.com/' })).toThrow(/ARCHIVE_ALLOWED_HOSTS/);
  });

  it('classifies addresses: only public unicast is fetchable', () => {
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fd00::1',
      'fd00:ec2::254',
      'fc00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
      '2002:7f00:1::',
      'ff02::1',
      'not-an-ip',
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    for (const address of ['8.8.8.8', '1.1.1.1', '151.101.1.1', '2606:4700:4700::1111', '2a00:1450:4001::200e'])
      expect(isPublicAddress(address), address).toBe(true);
  });

  it('checks every redirect hop before connecting, and connects only to the address it checked', async () => {
    const target = await localServer((_req, res) => res.end('internal secret'));
    const targetPort = new URL(target.origin).port;
    const fal = await localServer((req, res) => {
      const to: Record<string, string> = {
        '/to-localhost': `http://localhost:${targetPort}/secret`,
        '/to-metadata': 'http://169.254.169.254/latest/meta-data/',
        '/to-unlisted': 'https://evil.example/x.mp4',
        '/to-self': '/file',
        '/loop': '/loop',
      };
      if (to[req.url!]) return res.writeHead(302, { location: to[req.url!] }).end();
      res.writeHead(200, { 'content-type': 'video/mp4' }).end(sample);
    });
    // localhost is listed, so only the address check (inside the socket's lookup) stands between it and the target.
    const downloader = createDownloader({ allowedHosts: [...FAL_OUTPUT_HOSTS, 'localhost'], falOrigins: [fal.origin] });
    const signal = AbortSignal.timeout(20_000);
    for (const [path, reason] of [
      ['/to-localhost', /it resolves to (127\.0\.0\.1|::1), not a public address/],
      ['/to-metadata', /169\.254\.169\.254: not a fal host or in ARCHIVE_ALLOWED_HOSTS \(redirected from 127\.0\.0\.1:\d+\)/],
      ['/to-unlisted', /evil\.example: not a fal host/],
      ['/loop', /more than 5 redirects/],
    ] as const) {
      const failure = await downloader.get(`${fal.origin}${path}`, signal).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure, path).toBeInstanceOf(DownloadRefusedError);
      expect((failure as Error).message, path).toMatch(reason);
    }
    expect(target.connections()).toBe(0);
    // Direct, too: a listed name resolving to loopback is refused before any connection.
    await expect(downloader.get(`http://localhost:${targetPort}/secret`, signal)).rejects.toBeInstanceOf(DownloadRefusedError);
    expect(target.connections()).toBe(0);

    const followed = await downloader.get(`${fal.origin}/to-self`, signal);
    expect(followed.statusCode).toBe(200);
    expect(Buffer.concat(await followed.toArray()).equals(sample)).toBe(true);
  });
});

describe('/videos/ responses', () => {
  it('are video/* with nosniff and CSP sandbox whatever fal said, on every answer: 200, 206, HEAD, 416, 302, 404, 405', async () => {
    server = await startTestServer({ behaviour: paused, env: { ARCHIVE_MAX_ATTEMPTS: '1' } });
    const s = server;
    // fal (or whoever forged the output) says HTML: the file is still only ever served as a video.
    const fileUrl = (requestId: string) => `${s.sim.url}/files/output/${requestId}/output.mp4`;
    const pending = await generateOk(s);
    const first = await completeWith(
      s,
      { url: fileUrl(pending.falRequestId!), content_type: 'text/html', file_size: sample.length },
      pending,
    );
    await archiveReaches(s, first.id, 'ARCHIVED');
    const g = { id: first.globalId };
    const url = (await readGeneration(s, g.id)).video.url as string;

    // A second one whose archive failed: its stable URL redirects to fal's copy.
    s.sim.failNext('file', { status: 503, body: { detail: 'down' } }, 1);
    const next = await generateOk(s);
    const other = await completeWith(s, { url: fileUrl(next.falRequestId!), content_type: 'text/html' }, next);
    await archiveReaches(s, other.id, 'FAILED');
    const redirectUrl = (await readGeneration(s, other.globalId)).video.url as string;

    const answers: Array<[string, Promise<Response>, number, string | null]> = [
      ['GET', fetch(url), 200, 'video/mp4'],
      ['Range', fetch(url, { headers: { range: 'bytes=0-9' } }), 206, 'video/mp4'],
      ['HEAD', fetch(url, { method: 'HEAD' }), 200, 'video/mp4'],
      ['416', fetch(url, { headers: { range: 'bytes=99999999-' } }), 416, null],
      ['302', fetch(redirectUrl, { redirect: 'manual' }), 302, null],
      ['404', fetch(url.replace(/[0-9a-f-]{36}/, '00000000-0000-7000-8000-000000000000')), 404, null],
      ['405', fetch(url, { method: 'POST' }), 405, null],
    ];
    for (const [name, pending, status, type] of answers) {
      const response = await pending;
      await response.arrayBuffer();
      expect(response.status, name).toBe(status);
      expect(response.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(response.headers.get('content-security-policy'), name).toBe('sandbox');
      if (type) expect(response.headers.get('content-type'), name).toBe(type);
    }
  });
});
