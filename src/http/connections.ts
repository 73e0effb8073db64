import type { ServerResponse } from 'node:http';
import type { Authenticator } from '../auth/authenticator.ts';

/**
 * What the server knows about its open connections: which key each long-lived response or socket holds (so a revocation ends it), and which responses are in
 * flight (so a shutdown can end the streams and wait for the rest).
 *
 * Every GraphQL response holds its key, not only those that asked for `text/event-stream`: Yoga also streams
 * for `Accept: *\/*`, for no Accept at all, for `multipart/mixed` and for any casing, and whichever way a
 * stream was negotiated it must end when its key is revoked.
 */
export interface ConnectionRegistry {
  /** Ties a connection to its key: `end` is called when the key is revoked. Returns the release. */
  holdKey(keyId: string | null, end: () => void): () => void;
  /** Counts a response as in flight until it closes. */
  track(res: ServerResponse): void;
  /**
   * Ends every in-flight response that has started streaming (its head is written but it has not finished:
   * a single-shot response writes head and body at once), so clients reconnect elsewhere.
   */
  endStreams(): void;
  /** Resolves once nothing is in flight, or after timeoutMs; streams that start meanwhile are ended too. */
  drain(timeoutMs: number): Promise<void>;
  /** Stops listening for revocations. */
  close(): void;
}

export function createConnectionRegistry(auth: Authenticator): ConnectionRegistry {
  const byKey = new Map<string, Set<() => void>>();
  const inFlight = new Set<ServerResponse>();
  const idle = new Set<() => void>();

  const stopRevocations = auth.onRevoked((keyIds) => {
    for (const id of keyIds) for (const end of [...(byKey.get(id) ?? [])]) end();
  });

  const endStreams = () => {
    for (const res of inFlight) if (res.headersSent && !res.writableEnded) res.end();
  };

  return {
    holdKey(keyId, end) {
      if (!keyId) return () => {};
      const release = auth.hold(keyId);
      const set = byKey.get(keyId) ?? new Set();
      set.add(end);
      byKey.set(keyId, set);
      return () => {
        release();
        set.delete(end);
        if (set.size === 0 && byKey.get(keyId) === set) byKey.delete(keyId);
      };
    },
    track(res) {
      inFlight.add(res);
      res.on('close', () => {
        inFlight.delete(res);
        if (inFlight.size === 0) for (const wake of [...idle]) wake();
      });
    },
    endStreams,
    async drain(timeoutMs) {
      endStreams();
      if (inFlight.size === 0) return;
      let wake = () => {};
      const drained = new Promise<void>((resolve) => (wake = resolve));
      idle.add(wake);
      // A response still computing (a mutation waiting on fal) may start streaming only now: end it as it does.
      const sweep = setInterval(endStreams, 50);
      const deadline = setTimeout(wake, timeoutMs);
      try {
        await drained;
      } finally {
        idle.delete(wake);
        clearInterval(sweep);
        clearTimeout(deadline);
      }
    },
    close: stopRevocations,
  };
}
