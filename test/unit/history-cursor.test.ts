import { encodeBase64, encodeCursorTuple } from '@pothos/core';
import { describe, expect, it } from 'vitest';
import { historyCursor, parseHistoryCursor } from '../../src/schema/history-connection.ts';

// The page writes its cursors by hand (the profile showed Pothos' generic encoder); they must stay byte for byte
// what Pothos' compound cursor encoding writes, so cursors already held by clients keep their meaning.
describe('history cursors', () => {
  it("are Pothos' compound cursor of (createdAt, id), and parse back to the same position", () => {
    for (const [ms, id] of [
      [0, '00000000-0000-0000-0000-000000000000'],
      [1_780_000_000_123, '019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b'],
      [Date.UTC(2026, 11, 31, 23, 59, 59, 999), 'ffffffff-ffff-4fff-bfff-ffffffffffff'],
    ] as const) {
      const createdAt = new Date(ms);
      const cursor = historyCursor({ createdAt, id });
      expect(cursor).toBe(encodeBase64(`GPC:${encodeCursorTuple([createdAt, id])}`));
      expect(parseHistoryCursor(cursor)).toEqual({ position: { createdAt, id } });
    }
  });
});
