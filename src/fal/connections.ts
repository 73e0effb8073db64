/**
 * The HTTP connections every fal request travels on: the `fetch` the fal client is given (protocol §10: a
 * custom fetch sees all of the client's traffic).
 *
 * Why not the process-wide fetch: its one connection pool per origin holds every open status stream too, and a
 * stream keeps its connection busy for the whole life of the request (minutes for a video). The pool finds a
 * free connection by walking all of them, twice per request, so with a few thousand generations in flight every
 * submit and poll paid for thousands of busy stream connections (16 % of the server's time in M4's profile,
 * BENCHMARKS.md). Here the two kinds are apart: short requests share one keep-alive pool, which only ever holds
 * as many connections as there are short requests at once; each status stream gets a connection of its own,
 * closed when the stream ends, so opening one costs the same however many are open.
 */
import { Agent, Client, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';

export interface FalConnections {
  /** The `fetch` to give createFalClient (or wrap, as the status stream tap does). */
  fetch: typeof fetch;
  /** Ends every connection, open streams included (at shutdown, once nothing is tracked any more). */
  close(): Promise<void>;
}

/** Protocol §4: `GET …/requests/{id}/status/stream?logs=…`; every other fal request is answered and done. */
const STATUS_STREAM = /\/status\/stream(?:\?|$)/;

/**
 * At most this many short-request connections per origin; more requests at once wait for one of them. Without a
 * bound, a burst (1,000 generations finishing together: a log poll and a result fetch each) opened a connection per
 * request, each paying its connect (a TLS handshake at fal), and closed them all again at the keep-alive timeout:
 * about 2 % of the server's time in M1's 1,000 x 10 profile. 128 still carries over a thousand requests a second at
 * a 100 ms round trip.
 */
export const SHORT_REQUEST_CONNECTIONS = 128;

export function createFalConnections(): FalConnections {
  const shared = new Agent({ connections: SHORT_REQUEST_CONNECTIONS });
  const streams = new Set<Client>();

  const openStream = async (url: string, init: UndiciRequestInit): Promise<Response> => {
    const client = new Client(new URL(url).origin);
    streams.add(client);
    const forget = () => void streams.delete(client);
    try {
      const response = await undiciFetch(url, { ...init, dispatcher: client });
      // close() lets the request under way finish (the stream is read to its end or aborted) and then ends the
      // connection; nothing else is ever sent on it.
      client.close().then(forget, forget);
      return response as unknown as Response;
    } catch (error) {
      client.destroy().then(forget, forget);
      throw error;
    }
  };

  const falFetch: typeof fetch = (input, init) => {
    // The fal client passes a URL string and a plain init (method, headers, body, signal); a Request's own
    // fields are not carried over, since the client never sends one.
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const options = (init ?? {}) as UndiciRequestInit;
    if (STATUS_STREAM.test(url)) return openStream(url, options);
    return undiciFetch(url, { ...options, dispatcher: shared }) as unknown as Promise<Response>;
  };

  return {
    fetch: falFetch,
    async close() {
      await Promise.all([shared.destroy(), ...[...streams].map((client) => client.destroy())]);
      streams.clear();
    },
  };
}
