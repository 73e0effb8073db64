import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('WEBHOOK_* configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}).outboundWebhooks).toEqual({
      timeoutMs: 10_000,
      retryScheduleSeconds: [5, 300, 1800, 7200, 18000, 36000, 36000],
      allowPrivateUrls: false,
      pollMs: 1_000,
    });
  });

  it('reads a schedule of whole seconds and the other settings', () => {
    const config = loadConfig({
      WEBHOOK_RETRY_SCHEDULE: '0, 1,2',
      WEBHOOK_TIMEOUT_MS: '2500',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
      WEBHOOK_POLL_MS: '50',
    });
    expect(config.outboundWebhooks).toEqual({ timeoutMs: 2500, retryScheduleSeconds: [0, 1, 2], allowPrivateUrls: true, pollMs: 50 });
  });

  it.each(['5,,10', '-1', '1.5', 'soon'])('refuses WEBHOOK_RETRY_SCHEDULE=%s, naming the variable', (value) => {
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: value })).toThrow(ConfigError);
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: value })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
  });

  it('refuses a timeout out of range and a non-boolean WEBHOOK_ALLOW_PRIVATE_URLS', () => {
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '10' })).toThrow(/WEBHOOK_TIMEOUT_MS/);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_URLS: 'yes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE_URLS/);
  });
});
