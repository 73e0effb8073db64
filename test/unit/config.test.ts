import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('has defaults a newcomer can run with: simulator, PGlite under ./.data, port 4000 on loopback', () => {
    const config = loadConfig({});
    expect(config.http).toEqual({ port: 4000, host: '127.0.0.1' });
    expect(config.fal.backend).toBe('simulator');
    expect(config.database).toEqual({ kind: 'pglite', dataDir: './.data/pglite' });
    expect(config.fal.queueUrl).toBe('https://queue.fal.run');
    expect(config.fal.restUrl).toBe('https://rest.fal.ai');
  });

  it('uses fal when FAL_KEY is set (auto), and PostgreSQL when DATABASE_URL is set', () => {
    const config = loadConfig({ FAL_KEY: 'id:secret', DATABASE_URL: 'postgresql://u@h:5432/db', FAL_QUEUE_URL: 'http://127.0.0.1:9999/' });
    expect(config.fal.backend).toBe('fal');
    expect(config.fal.key).toBe('id:secret');
    expect(config.fal.queueUrl).toBe('http://127.0.0.1:9999');
    expect(config.database).toMatchObject({ kind: 'postgres', url: 'postgresql://u@h:5432/db' });
  });

  it('FAL_BACKEND=simulator wins over a key; FAL_BACKEND=fal without a key is an error', () => {
    expect(loadConfig({ FAL_KEY: 'k', FAL_BACKEND: 'simulator' }).fal.backend).toBe('simulator');
    expect(() => loadConfig({ FAL_BACKEND: 'fal' })).toThrow(/FAL_BACKEND.*FAL_KEY/);
  });

  it('reports every bad variable at once, by name, without echoing values', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', FAL_BACKEND: 'cloud', DATABASE_URL: 'mysql://secret-password@h/db', FAL_QUEUE_URL: 'ftp://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'FAL_BACKEND', 'DATABASE_URL', 'FAL_QUEUE_URL']) expect(message).toContain(name);
    expect(message).not.toContain('secret-password');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ FAL_KEY: '', PORT: '' }).fal.backend).toBe('simulator');
  });

  it('turns GraphiQL and introspection off in production unless asked for', () => {
    expect(loadConfig({}).graphql).toMatchObject({ graphiql: true, introspection: true });
    expect(loadConfig({ NODE_ENV: 'production' }).graphql).toMatchObject({ graphiql: false, introspection: false });
    expect(loadConfig({ NODE_ENV: 'production', GRAPHIQL: 'true', GRAPHQL_INTROSPECTION: 'true' }).graphql).toMatchObject({
      graphiql: true,
      introspection: true,
    });
    expect(() => loadConfig({ GRAPHIQL: 'yes' })).toThrow(/GRAPHIQL/);
  });
});
