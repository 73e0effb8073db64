import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFalSimulator, type FalSimulator } from '../../src/fal/simulator/index.ts';
import { createLogger, redactingLogger } from '../../src/logger.ts';
import { createTempPostgresDatabase, type TempPostgresDatabase } from '../helpers/db.ts';
import { bearer, collectSse, EVENTS_SUBSCRIPTION, gql } from '../helpers/graphql.ts';
import { IMAGE } from '../helpers/generation.ts';
import { spawnServer, type ServerProcess } from '../helpers/process.ts';
import { assertNoSecrets, registerSecret } from '../helpers/secrets.ts';
import { GENERATE_AS } from '../helpers/tenants.ts';

// The real server process with a real fal key (the simulator checks it on every call), driven through
// success, failure and refusal paths; then everything it wrote, and every response it sent, is searched
// for the fal key and the API keys.
const FAL_KEY = registerSecret(`fal-${randomBytes(24).toString('hex')}:${randomBytes(16).toString('hex')}`);
let sim: FalSimulator;
let database: TempPostgresDatabase;
let server: ServerProcess;
const responses: string[] = [];

const keysCli = (...args: string[]) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['src/cli/keys.ts', ...args], { env: { PATH: process.env.PATH, DATABASE_URL: database.url } });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.on('close', (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(`keys ${args[0]} exited ${code}`))));
  });

beforeAll(async () => {
  sim = createFalSimulator({ preset: 'fast', expectedKey: FAL_KEY });
  await sim.start();
  database = await createTempPostgresDatabase();
  server = await spawnServer({
    DATABASE_URL: database.url,
    FAL_KEY,
    FAL_BACKEND: 'fal',
    FAL_QUEUE_URL: sim.url,
    FAL_REST_URL: sim.url,
    FAL_POLL_INTERVAL_MS: '100',
    AUTH: 'required',
    PORT: '0',
  });
}, 60_000);

afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  await sim?.stop();
  await database?.drop();
});

describe('secrets never leave the server', () => {
  it('no fal key or API key in any log line or response, across success, failure and refusal paths', async () => {
    const key = registerSecret(JSON.parse(await keysCli('create', '--tenant', 'acme', '--name', 'ci', '--json')).key);
    const record = async <T>(p: Promise<T>) => {
      const value = await p;
      responses.push(JSON.stringify(value));
      return value;
    };
    // Success: submit, follow to the end over SSE, read it back.
    const ok = await record(gql(server.url, GENERATE_AS, { input: { imageUrl: IMAGE, prompt: 'a cat walks' } }, bearer(key)));
    expect(ok.data.generateVideo.__typename).toBe('GenerateVideoSuccess');
    const events = await record(collectSse(server.url, EVENTS_SUBSCRIPTION, { id: ok.data.generateVideo.generation.id }, bearer(key)));
    expect(events.at(-1)?.data.videoGenerationEvents.status).toBe('COMPLETED');
    // fal fails a generation (422 from the result endpoint): the error is reported without the key.
    sim.configure({
      outcome: { kind: 'error', status: 422, body: { detail: [{ loc: ['body', 'prompt'], msg: 'rejected', type: 'value_error' }] } },
    });
    const failed = await record(gql(server.url, GENERATE_AS, { input: { imageUrl: IMAGE, prompt: 'fails' } }, bearer(key)));
    await record(collectSse(server.url, EVENTS_SUBSCRIPTION, { id: failed.data.generateVideo.generation.id }, bearer(key)));
    // Refusals: a wrong key, a key in the wrong scheme, a malformed document, an internal error path.
    for (const authorization of [`Bearer ${key.slice(0, -2)}xx`, `Key ${FAL_KEY}`, `Bearer ${FAL_KEY}`]) {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: '{"query":"{ serverInfo { version } }"}',
      });
      responses.push(await response.text());
      expect(response.status).toBe(401);
    }
    responses.push(JSON.stringify(await gql(server.url, '{ serverInfo { ', {}, bearer(key))));
    responses.push(JSON.stringify(await gql(server.url, '{ videoGenerations(first: 100000) { edges { node { id } } } }', {}, bearer(key))));
    const info = await record(gql(server.url, '{ serverInfo { falBackend endpointId } usage { inFlight } }', {}, bearer(key)));
    expect(info.data.serverInfo.falBackend).toBe('FAL');

    // Stop the server so every line it would write is written.
    server.child.kill('SIGTERM');
    await server.exited;
    const output = server.output();
    expect(output).toMatch(/listening on/);
    expect(output).toMatch(/shutting down/);
    assertNoSecrets(output, 'the server process output');
    assertNoSecrets(responses.join('\n'), 'a response');
    expect(output).not.toMatch(/Bearer\s+rg_/);
  });

  it('the log redacts Authorization values and anything shaped like an API key', () => {
    const lines: string[] = [];
    const logger = redactingLogger(
      createLogger((line) => lines.push(line)),
      ['configured-fal-secret-123'],
    );
    logger.info('request headers: {"authorization":"Bearer rg_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}');
    logger.warn('Authorization: Key configured-fal-secret-123');
    logger.error('token rg_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG leaked; fal said configured-fal-secret-123');
    const text = lines.join('\n');
    expect(text).not.toContain('abcdefghijklmnopqrstuvwxyz');
    expect(text).not.toContain('configured-fal-secret-123');
    expect(text).toContain('[redacted]');
  });
});
