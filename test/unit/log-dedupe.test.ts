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

  it('makes text the database can store (NUL and unpaired surrogates become U+FFFD), and recognises it stored', () => {
    const deduper = createLogDeduper([]);
    const raw = [line(1, 'before\u0000after'), line(2, 'half \ud83d emoji'), { ...line(3), level: 'WA\u0000RN' }];
    const fresh = stored(deduper.source())(raw);
    expect(fresh.map((l) => [l.message, l.level])).toEqual([
      ['before\uFFFDafter', 'INFO'],
      ['half \uFFFD emoji', 'INFO'],
      ['line 3', 'WA\uFFFDRN'],
    ]);
    // The same raw lines again (the next poll), and after a restart from what was stored: nothing is new.
    expect(stored(deduper.source())(raw)).toHaveLength(0);
    const restarted = createLogDeduper(fresh.map(({ message, level, timestamp }) => ({ message, level, timestamp })));
    expect(stored(restarted.source())([...raw, line(4)]).map((l) => l.message)).toEqual(['line 4']);
    // Clean text is passed through as it is (the same string).
    const clean = 'an ordinary line \u00e9\ud83d\ude00';
    expect(stored(createLogDeduper([]).source())([line(5, clean)])[0].message).toBe(clean);
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

  it('tells apart many lines sharing one millisecond by level and message', () => {
    const deduper = createLogDeduper([]);
    const at = (message: string, level = 'INFO') => ({ message, level, timestamp: '2026-02-10T12:00:01.123456' });
    const first = [at('a'), at('b'), at('a', 'ERROR'), at('c'), at('a'), at('b', 'DEBUG')];
    expect(stored(deduper.source())(first).map((l) => `${l.level} ${l.message}`)).toEqual([
      'INFO a',
      'INFO b',
      'ERROR a',
      'INFO c',
      'INFO a',
      'DEBUG b',
    ]);
    const others = [at('a', 'WARN'), at('b', 'DEBUG'), at('c', 'ERROR')];
    expect(stored(deduper.source())(others).map((l) => `${l.level} ${l.message}`)).toEqual(['WARN a', 'ERROR c']);
    // The same millisecond to the microsecond's truncation: still the same lines.
    const later = { message: 'a', level: 'ERROR', timestamp: '2026-02-10T12:00:01.123999' };
    expect(stored(deduper.source())([...first, later, at('d'), at('a')]).map((l) => `${l.level} ${l.message}`)).toEqual([
      'ERROR a',
      'INFO d',
      'INFO a',
    ]);
    expect(stored(deduper.source())([...first, later, at('d'), at('a'), at('a', 'WARN'), at('c', 'ERROR')])).toEqual([]);
  });

  it('never lowers a stored count when batches are committed out of order', () => {
    const deduper = createLogDeduper([]);
    const tick = line(1, 'tick');
    const early = deduper.source()([tick]);
    stored(deduper.source())([tick, tick]);
    early.commit();
    expect(stored(deduper.source())([tick, tick, tick])).toHaveLength(1);
  });

  it('counts repeats of stored lines that share a millisecond (a resumed tracker)', () => {
    const timestamp = parseFalTimestamp(line(1).timestamp);
    const deduper = createLogDeduper([
      { message: 'tick', level: 'INFO', timestamp },
      { message: 'tock', level: 'INFO', timestamp },
      { message: 'tick', level: 'INFO', timestamp },
    ]);
    const tick = line(1, 'tick');
    const tock = line(1, 'tock');
    expect(stored(deduper.source())([tick, tock, tick, tock, tick]).map((l) => l.message)).toEqual(['tock', 'tick']);
  });

  it('skips the part of a reconnect replay that was stored, repeats included', () => {
    const deduper = createLogDeduper([]);
    const tick = line(1, 'tick');
    const stream = stored(deduper.source());
    expect(stream([tick])).toHaveLength(1);
    expect(stream([tick, line(2)])).toHaveLength(2);
    // The new connection replays all three, then goes on: only the lines past the replay are new.
    const reconnect = stored(deduper.source());
    expect(reconnect([tick, tick, line(2)])).toEqual([]);
    expect(reconnect([tick, line(3)]).map((l) => l.message)).toEqual(['tick', 'line 3']);
  });

  it('takes lines of a failed write as new again in the source that retries them', () => {
    const deduper = createLogDeduper([]);
    const stream = deduper.source();
    expect(stored(stream)([line(1)])).toHaveLength(1);
    // This write fails: its batch is never committed, and the tracker drops the connection.
    expect(stream([line(2), line(3)]).fresh).toHaveLength(2);
    const retry = stored(deduper.source());
    expect(retry([line(1), line(2), line(3)]).map((l) => l.message)).toEqual(['line 2', 'line 3']);
    expect(retry([line(4)]).map((l) => l.message)).toEqual(['line 4']);
    expect(stored(deduper.source())([line(1), line(2), line(3), line(4)])).toEqual([]);
  });

  it('gathers several calls in one batch, committed (or not) as one write', () => {
    const deduper = createLogDeduper([]);
    const stream = deduper.source();
    const failed = stream([line(1)]);
    stream([line(2)], failed);
    expect(failed.fresh.map((l) => l.message)).toEqual(['line 1', 'line 2']);
    const poll = deduper.source();
    const batch = poll([line(1)]);
    expect(poll([line(1), line(2)], batch)).toBe(batch);
    expect(batch.fresh.map((l) => l.message)).toEqual(['line 1', 'line 1', 'line 2']);
    batch.commit();
    expect(stored(deduper.source())([line(1), line(1), line(2), line(2)]).map((l) => l.message)).toEqual(['line 2']);
  });

  // The contract of createLogDeduper: sources are used one after another, as the tracker uses them.
  it('follows sources used one after another, as the tracker does', () => {
    const deduper = createLogDeduper([]);
    // A stream connection's source is made when it opens; its catch-up poll's source is made and used in full
    // before the stream's first event is applied.
    const stream = stored(deduper.source());
    const catchUp = stored(deduper.source());
    expect(catchUp([line(1), line(2)]).map((l) => l.message)).toEqual(['line 1', 'line 2']);
    // Line 2 was logged after the stream opened: the stream sends it too, and it is not new.
    expect(stream([line(2)])).toEqual([]);
    expect(stream([line(3)]).map((l) => l.message)).toEqual(['line 3']);
    expect(stream([line(3)]).map((l) => l.message)).toEqual(['line 3']);
    // After the stream ends: the final poll (finish) sees everything once more.
    expect(stored(deduper.source())([line(1), line(2), line(3), line(3), line(4)]).map((l) => l.message)).toEqual(['line 4']);
  });

  it('reads fal timestamps as UTC', () => {
    expect(parseFalTimestamp('2026-02-10T12:00:01.123456').toISOString()).toBe('2026-02-10T12:00:01.123Z');
    expect(parseFalTimestamp('2026-02-10T12:00:01Z').toISOString()).toBe('2026-02-10T12:00:01.000Z');
    expect(parseFalTimestamp('garbage').getTime()).toBe(0);
  });
});
