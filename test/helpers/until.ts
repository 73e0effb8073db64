import { errorMessage } from '../../src/lib/errors.ts';

/** Anything with Node's EventEmitter on/off (an emitter, a socket, a child process). */
export interface EventSource {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface UntilOptions {
  /** Re-check whenever one of these fires (`[emitter, 'event']`), so a change is seen at once. */
  on?: Array<[EventSource, string]>;
  /** Give up after this long. Below vitest's 30 s test timeout, so the failure says what was awaited. */
  timeoutMs?: number;
  /** Re-check this often besides: 25 ms without events, 250 ms with them (for a change no event reports). */
  intervalMs?: number;
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Waits until `condition` returns something truthy, and returns it. The condition is checked at once, then on
 * every event in `on` and every `intervalMs`; a check that throws counts as "not yet" (its error is reported if
 * the wait times out). On timeout it throws with `what` it waited for, so a hung wait names itself.
 *
 *   await until('the simulator to have 8 log lines', () => sim.requests.get(id)?.logs.length === 8, { on: [[sim.events, 'log']] });
 */
export function until<T>(what: string, condition: () => T | Promise<T>, options: UntilOptions = {}): Promise<Truthy<T>> {
  const { on = [], timeoutMs = 20_000 } = options;
  const intervalMs = options.intervalMs ?? (on.length > 0 ? 250 : 25);
  const started = Date.now();
  return new Promise<Truthy<T>>((resolve, reject) => {
    let settled = false;
    let running = false;
    let again = false;
    let lastError: unknown = null;
    const finish = (outcome: () => void) => {
      settled = true;
      clearInterval(interval);
      clearTimeout(deadline);
      for (const [source, event] of on) source.off(event, check);
      outcome();
    };
    // One check at a time: an event during a slow (async) check asks for one more check after it.
    function check(): void {
      if (settled) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      void (async () => {
        try {
          const value = await condition();
          if (value && !settled) finish(() => resolve(value as Truthy<T>));
        } catch (error) {
          lastError = error;
        } finally {
          running = false;
          if (again && !settled) {
            again = false;
            check();
          }
        }
      })();
    }
    const interval = setInterval(check, intervalMs);
    const deadline = setTimeout(() => {
      if (settled) return;
      const reason = lastError === null ? '' : `; the last check threw: ${errorMessage(lastError)}`;
      finish(() => reject(new Error(`gave up after ${Date.now() - started} ms waiting for ${what}${reason}`)));
    }, timeoutMs);
    for (const [source, event] of on) source.on(event, check);
    check();
  });
}
