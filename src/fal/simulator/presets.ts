import type { SimulatorBehaviour } from './types.ts';

/** The behaviours SIMULATOR_PRESET names. */
export const PRESETS: Record<'realistic' | 'fast', SimulatorBehaviour> = {
  // About 12 s end to end, so a person watching GraphiQL on a keyless local run sees every stage.
  realistic: { queuePosition: 2, queueStepMs: 1000, logCount: 8, logIntervalMs: 1000, completeDelayMs: 1000, outcome: { kind: 'success' } },
  // A few milliseconds per step: every stage still happens, in order, on real timers.
  fast: { queuePosition: 2, queueStepMs: 5, logCount: 5, logIntervalMs: 5, completeDelayMs: 5, outcome: { kind: 'success' } },
};
