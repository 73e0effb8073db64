import { describe, expect, it } from 'vitest';
import { createLogDeduper, parseFalTimestamp } from '../../src/generations/log-dedupe.ts';

/** Feeds a batch and commits it, as the tracker does after a successful write. */
const stored = (source: ReturnType<ReturnType<typeof createLogDeduper>['source']>) => (lines: Parameters<typeof source>[0]) => {
  const batch = source(lines);
  batch.commit();
  return batch.fresh;
};

const line = (n: number, message = `line ${n}`) => ({ message, level: 'INFO', timestamp: `2026-02-10T12:00:0${n}.123456` });

describe('log de-duplication', () => {
  it('takes only new lines from cumulative poll responses', () => {
    const deduper = createLogDeduper([]);
    expect(stored(deduper.source())([line(1), line(2)]).map((l) => l.message)).toEqual(['line 1', 'line 2']);
    expect(stored(deduper.source())([line(1), line(2), line(3)]).map((l) => l.message)).toEqual(['line 3']);
  });

  it('takes incremental stream events as they come, and skips history a reconnect replays', () => {
    const deduper = createLogDeduper([]);
    const stream = stored(deduper.source());
    expect(stream([line(1)])).toHaveLength(1);
    expect(stream([line(2)])).toHaveLength(1);
    const reconnect = stored(deduper.source());
    expect(reconnect([line(1), line(2), line(3)]).map((l) => l.message)).toEqual(['line 3']);
    expect(stored(deduper.source())([line(4)]).map((l) => l.message)).toEqual(['line 4']);
  });

  it('keeps genuinely repeated lines (same text, same timestamp) as often as fal sent them', () => {
    const deduper = createLogDeduper([]);
    const same = line(1, 'tick');
    expect(stored(deduper.source())([same, same])).toHaveLength(2);
    expect(stored(deduper.source())([same, same, same])).toHaveLength(1);
  });

  it('starts from what is already stored (a resumed tracker)', () => {
    const storedLines = [{ message: 'line 1', level: 'INFO', timestamp: parseFalTimestamp(line(1).timestamp) }];
    expect(stored(createLogDeduper(storedLines).source())([line(1), line(2)]).map((l) => l.message)).toEqual(['line 2']);
  });

  it('does not mark lines as stored until their write is committed', () => {
    const deduper = createLogDeduper([]);
    const failedWrite = deduper.source()([line(1), line(2)]);
    expect(failedWrite.fresh).toHaveLength(2);
    // No commit: the database write failed. The next source still sees both as new.
    expect(stored(deduper.source())([line(1), line(2)]).map((l) => l.message)).toEqual(['line 1', 'line 2']);
    expect(stored(deduper.source())([line(1), line(2)])).toEqual([]);
  });

  it('reads fal timestamps as UTC', () => {
    expect(parseFalTimestamp('2026-02-10T12:00:01.123456').toISOString()).toBe('2026-02-10T12:00:01.123Z');
    expect(parseFalTimestamp('2026-02-10T12:00:01Z').toISOString()).toBe('2026-02-10T12:00:01.000Z');
    expect(parseFalTimestamp('garbage').getTime()).toBe(0);
  });
});
