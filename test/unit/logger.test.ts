import { describe, expect, it } from 'vitest';
import { loadConfig, loadLogSettings } from '../../src/config.ts';
import { addLogContext, logScope, withLogContext } from '../../src/log/context.ts';
import { childLogger, createLogger, redactingLogger } from '../../src/logger.ts';
import { parseLogLines } from '../helpers/logs.ts';

const capture = (options: Parameters<typeof createLogger>[0] & object = {}) => {
  const lines: string[] = [];
  return { lines, logger: createLogger({ ...options, sink: (line) => lines.push(line) }) };
};

describe('the logger', () => {
  it('writes one JSON object per line with level, time, msg and the fields given', () => {
    const { lines, logger } = capture();
    logger.info('hello', { status: 'COMPLETED' });
    logger.warn('careful');
    expect(parseLogLines(lines)).toEqual([
      expect.objectContaining({ level: 'info', msg: 'hello', status: 'COMPLETED', time: expect.any(String) }),
      expect.objectContaining({ level: 'warn', msg: 'careful' }),
    ]);
  });

  it('honours the level', () => {
    const { lines, logger } = capture({ level: 'warn' });
    logger.info('dropped');
    logger.debug?.('dropped too');
    logger.error('kept');
    expect(parseLogLines(lines).map((r) => r.msg)).toEqual(['kept']);
  });

  it('adds the fields of the current log context, scoped to the work that set them', async () => {
    const { lines, logger } = capture();
    const verb = logScope(async (id: string) => {
      addLogContext({ generationId: id, tenantId: 'acme' });
      await new Promise((resolve) => setImmediate(resolve));
      logger.info(`inside ${id}`);
    });
    await withLogContext({ requestId: 'req-1' }, async () => {
      await Promise.all([verb('g1'), verb('g2')]);
      logger.info('after');
    });
    logger.info('outside');
    addLogContext({ generationId: 'ignored outside any scope' });
    logger.info('still outside');
    const records = parseLogLines(lines);
    expect(records.find((r) => r.msg === 'inside g1')).toMatchObject({ requestId: 'req-1', generationId: 'g1', tenantId: 'acme' });
    expect(records.find((r) => r.msg === 'inside g2')).toMatchObject({ requestId: 'req-1', generationId: 'g2' });
    expect(records.find((r) => r.msg === 'after')).toMatchObject({ requestId: 'req-1' });
    expect(records.find((r) => r.msg === 'after')).not.toHaveProperty('generationId');
    for (const msg of ['outside', 'still outside']) {
      expect(records.find((r) => r.msg === msg)).not.toHaveProperty('requestId');
      expect(records.find((r) => r.msg === msg)).not.toHaveProperty('generationId');
    }
  });

  it('redacts credential fields whole, and keys and Authorization values wherever they appear', () => {
    const { lines, logger: base } = capture();
    const logger = childLogger(redactingLogger(base, ['fal-secret-value-123']), { component: 'test' });
    const apiKey = 'rg_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
    logger.info('request', {
      authorization: `Bearer ${apiKey}`,
      headers: { authorization: 'Key fal-secret-value-123', accept: 'application/json' },
      falKey: 'anything at all',
      err: new Error(`fal said no to fal-secret-value-123 (token ${apiKey})`),
      nested: { note: `Authorization: Bearer ${apiKey}` },
    });
    const text = lines.join('\n');
    expect(text).not.toContain('fal-secret-value-123');
    expect(text).not.toContain('abcdefghijklmnopqrstuvwxyz');
    expect(text).not.toContain('anything at all');
    const [record] = parseLogLines(lines);
    expect(record).toMatchObject({
      component: 'test',
      authorization: '[redacted]',
      falKey: '[redacted]',
      headers: { authorization: '[redacted]', accept: 'application/json' },
    });
  });

  it("censors every credential field the redaction paths named, without changing the caller's objects", () => {
    const { lines, logger } = capture();
    const fields = {
      token: 't0ken-value',
      secret: 's3cret-value',
      password: 'passw0rd-value',
      apiKey: 'api-key-value',
      upstream: { falKey: 'fal-key-value', apiKey: 'nested-api-key', other: 'kept' },
      req: { headers: { authorization: 'req-auth-value', accept: 'text/html' } },
      request: { headers: { authorization: 'request-auth-value' } },
      plain: 'kept too',
    };
    const copy = structuredClone(fields);
    logger.info('fields', fields);
    childLogger(logger, { falKey: 'bound-fal-key' }).info('bound');
    expect(fields).toEqual(copy);
    const text = lines.join('\n');
    for (const value of [
      't0ken',
      's3cret',
      'passw0rd',
      'api-key-value',
      'fal-key-value',
      'nested-api-key',
      'req-auth',
      'request-auth',
      'bound-fal-key',
    ])
      expect(text).not.toContain(value);
    const [record, bound] = parseLogLines(lines);
    expect(record).toMatchObject({
      token: '[redacted]',
      upstream: { falKey: '[redacted]', apiKey: '[redacted]', other: 'kept' },
      req: { headers: { authorization: '[redacted]', accept: 'text/html' } },
      plain: 'kept too',
    });
    expect(bound).toMatchObject({ falKey: '[redacted]' });
  });

  it('pretty-prints for terminals', () => {
    const { lines, logger } = capture({ format: 'pretty' });
    logger.warn('human readable', { generationId: 'g1' });
    const text = lines.join('\n');
    expect(text).toMatch(/WARN.*human readable/);
    expect(text).toContain('generationId: "g1"');
    expect(() => JSON.parse(lines[0])).toThrow();
  });
});

describe('LOG_FORMAT and LOG_LEVEL', () => {
  it('are parsed with the rest of the configuration, and on their own (never failing) for the start-up logger', () => {
    expect(loadConfig({}).log).toEqual({ format: null, level: 'info' });
    expect(loadConfig({ LOG_FORMAT: 'pretty', LOG_LEVEL: 'debug' }).log).toEqual({ format: 'pretty', level: 'debug' });
    expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(loadLogSettings({ LOG_FORMAT: 'xml', LOG_LEVEL: 'loud' })).toEqual({ format: null, level: 'info' });
    expect(loadLogSettings({ LOG_FORMAT: 'json', LOG_LEVEL: 'warn' })).toEqual({ format: 'json', level: 'warn' });
  });
});
