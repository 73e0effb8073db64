/**
 * What tests started and have not released yet: servers, processes, simulators. Helpers that start something
 * register its disposer here and take it back when the test disposes of it itself; whatever is still here when a
 * test file ends (because a test failed or forgot) is disposed by the hook in test/setup/leftovers.ts, which
 * vitest.config.ts installs for every test file. So a failing test cannot leave a port or a child process behind
 * for the next file on the same worker.
 */
interface Leftover {
  what: string;
  dispose: () => unknown;
}

const registry = new Set<Leftover>();

/** Registers `dispose` for `what`; the returned function takes it back (call it once the thing is released). */
export function registerLeftover(what: string, dispose: () => unknown): () => void {
  const entry: Leftover = { what, dispose };
  registry.add(entry);
  return () => {
    registry.delete(entry);
  };
}

/** Descriptions of everything still registered, oldest first. */
export function leftovers(): string[] {
  return [...registry].map((entry) => entry.what);
}

/**
 * Disposes everything still registered, newest first (a server before the simulator it talks to), each one even
 * when another fails; returns what it disposed, and throws an AggregateError if any disposer failed.
 */
export async function disposeLeftovers(): Promise<string[]> {
  const entries = [...registry].reverse();
  registry.clear();
  const failures: Array<{ what: string; error: unknown }> = [];
  for (const entry of entries) {
    try {
      await entry.dispose();
    } catch (error) {
      failures.push({ what: entry.what, error });
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((f) => f.error),
      `disposing leftovers failed for: ${failures.map((f) => f.what).join(', ')}`,
    );
  }
  return entries.map((entry) => entry.what);
}
