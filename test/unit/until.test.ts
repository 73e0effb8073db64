import { EventEmitter } from 'node:events';
import { expect, it } from 'vitest';
import { until } from '../helpers/until.ts';

it('returns the first truthy value, re-checking on each event', async () => {
  const events = new EventEmitter();
  let n = 0;
  const reached = until('n to reach 3', () => (n >= 3 ? n : null), { on: [[events, 'tick']], intervalMs: 60_000 });
  for (let i = 0; i < 3; i += 1) {
    n += 1;
    events.emit('tick');
  }
  expect(await reached).toBe(3);
  expect(events.listenerCount('tick')).toBe(0);
});

it('gives up at its deadline, naming what it waited for and the last error of the check', async () => {
  const waited = until(
    'the moon to turn blue',
    () => {
      throw new Error('still grey');
    },
    { timeoutMs: 50, intervalMs: 10 },
  );
  await expect(waited).rejects.toThrow(/gave up after \d+ ms waiting for the moon to turn blue; the last check threw: still grey/);
});
