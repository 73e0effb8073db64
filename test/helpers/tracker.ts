import type { FalGateway } from '../../src/fal/types.ts';
import type { GenerationEvent } from '../../src/generations/events.ts';
import type { GenerationStore } from '../../src/generations/store.ts';
import { trackGeneration } from '../../src/generations/track-generation.ts';

/**
 * Tracks one generation with this fal and store until `signal` aborts (or the tracker ends), as the app's tracker
 * does, with polls far apart so that only what the test's fal does happens. `streamSafetyPollMs` defaults to one
 * minute too; `publish` receives what the tracker publishes.
 */
export function followGeneration(
  fal: FalGateway,
  store: GenerationStore,
  signal: AbortSignal,
  options: {
    id?: string;
    falRequestId?: string;
    streamSafetyPollMs?: number;
    publish?: (events: GenerationEvent[]) => void;
  } = {},
): Promise<void> {
  return trackGeneration(
    {
      store,
      fal,
      publish: options.publish ?? (() => {}),
      options: { pollIntervalMs: 60_000, maxStreamFailures: 3, streamSafetyPollMs: options.streamSafetyPollMs ?? 60_000 },
      log: () => {},
    },
    {
      id: options.id ?? '00000000-0000-4000-8000-000000000001',
      endpointId: 'e',
      falRequestId: options.falRequestId ?? 'req-1',
      logsSoFar: [],
    },
    signal,
  );
}
