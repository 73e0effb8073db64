import { describe, expect, it } from 'vitest';
import { orphanScanIntervalMs } from '../../src/generations/recover.ts';

describe('orphanScanIntervalMs', () => {
  it('scans as often as LEASE_SCAN_MS, or four times per ORPHAN_AFTER_S when that is shorter', () => {
    expect(orphanScanIntervalMs(5_000, 900)).toBe(5_000);
    expect(orphanScanIntervalMs(5_000, 8)).toBe(2_000);
    expect(orphanScanIntervalMs(300_000, 900)).toBe(225_000);
    expect(orphanScanIntervalMs(5_000, 1)).toBe(250);
  });
});
