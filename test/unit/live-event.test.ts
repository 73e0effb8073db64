import { describe, expect, it } from 'vitest';
import { toMessage, type GenerationEvent } from '../../src/generations/events.ts';
import { isLive, LiveEvents, MemoKey } from '../../src/generations/live-event.ts';

const ID = '0190a6f2-0000-7000-8000-000000000001';
const log = (sequence: number, batch?: string): GenerationEvent => ({
  kind: 'LOG',
  generationId: ID,
  sequence,
  log: { sequence, message: `line ${sequence}`, level: 'INFO', timestamp: new Date(0) },
  at: new Date(0),
  ...(batch ? { batch } : {}),
});

describe('LiveEvent', () => {
  it('is the object it was made from, with memo slots that a copy, the wire format and equality never see', () => {
    const event = log(1);
    const live = new LiveEvents().published(event);
    expect(live).toBe(event);
    expect(isLive(live)).toBe(true);
    expect(Object.keys(live)).not.toContain('memo');
    expect(isLive({ ...live })).toBe(false);
    expect(JSON.stringify(toMessage(live))).toBe(JSON.stringify(toMessage(log(1))));
    expect(live).toEqual(log(1));
  });

  it('memoises each key once; lines of one batch share a batch memo, a read shares one, nothing else does', () => {
    const hub = new LiveEvents();
    const key = new MemoKey<{ n: number }>('test');
    const [a, b, c] = [hub.published(log(1, 'x')), hub.published(log(2, 'x')), hub.published(log(3, 'y'))];
    let made = 0;
    const first = a.memo.get(key, () => ({ n: ++made }));
    expect(a.memo.get(key, () => ({ n: ++made }))).toBe(first);
    expect(made).toBe(1);
    expect(b.memo).not.toBe(a.memo);
    expect(b.batchMemo).toBe(a.batchMemo);
    expect(c.batchMemo).not.toBe(a.batchMemo);
    // Another key never sees this one's entry.
    expect(a.memo.get(new MemoKey<{ n: number }>('test'), () => ({ n: 0 })).n).toBe(0);
    const page = hub.read([log(4), log(5)]);
    expect(page[0].batchMemo).toBe(page[1].batchMemo);
    expect(page[0].batchMemo).not.toBe(page[0].memo);
    const unbatched = hub.published(log(6));
    expect(unbatched.batchMemo).toBe(unbatched.memo);
    // A dashboard update becomes a live object of our own, never the publisher's.
    const message = { id: ID, tenantId: 't' };
    const update = hub.update(message);
    expect(update).not.toBe(message);
    expect(isLive(update) && !isLive(message)).toBe(true);
    expect(update).toEqual(message);
  });
});
