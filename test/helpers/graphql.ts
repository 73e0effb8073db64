import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** A query or mutation over real HTTP. */
export async function gql<T = any>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** A real graphql-ws client on the same URL (http -> ws). Dispose it with `await client.dispose()`. */
export function wsClient(url: string, apiKey?: string): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...(apiKey ? { connectionParams: { authorization: `Bearer ${apiKey}` } } : {}),
  });
}

/** The Authorization header for an API key. */
export const bearer = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` });

export interface Collected<T> {
  /** Resolves with every `next` payload once the server completes the subscription. */
  done: Promise<Array<GraphQLResponse<T>>>;
  /** Payloads received so far. */
  received: Array<GraphQLResponse<T>>;
  /** Resolves when at least n payloads have arrived. */
  waitFor(n: number): Promise<void>;
  /** Resolves when the payloads received so far satisfy the predicate (checked on every arrival). */
  waitUntil(predicate: (received: Array<GraphQLResponse<T>>) => boolean): Promise<void>;
  cancel(): void;
}

/** Subscribes over graphql-ws and collects every payload until the server completes or errors. */
export function collect<T = any>(client: Client, query: string, variables?: Record<string, unknown>): Collected<T> {
  const received: Array<GraphQLResponse<T>> = [];
  const waiters: Array<{ ready: () => boolean; resolve: () => void; reject: (error: Error) => void }> = [];
  let cancel = () => {};
  let failure: Error | null = null;
  const waitUntil = (ready: () => boolean) =>
    ready()
      ? Promise.resolve()
      : failure
        ? Promise.reject(failure)
        : new Promise<void>((resolve, reject) => waiters.push({ ready, resolve, reject }));
  const done = new Promise<Array<GraphQLResponse<T>>>((resolve, reject) => {
    cancel = client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          received.push(value as GraphQLResponse<T>);
          for (const w of [...waiters]) {
            if (w.ready()) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve();
            }
          }
        },
        error: (error) => {
          failure = error instanceof Error ? error : new Error(`subscription failed: ${describeError(error)}`);
          for (const w of waiters.splice(0)) w.reject(failure);
          reject(failure);
        },
        complete: () => {
          for (const w of waiters.splice(0)) w.reject(new Error('subscription completed before the awaited condition'));
          resolve(received);
        },
      },
    );
  });
  // A test that stops caring (the server went away on purpose) need not await this; one that does, still can.
  done.catch(() => undefined);
  return {
    done,
    received,
    cancel: () => cancel(),
    waitFor: (n) => waitUntil(() => received.length >= n),
    waitUntil: (predicate) => waitUntil(() => predicate(received)),
  };
}

/** Subscribes over Server-Sent Events (Yoga's built-in transport) and collects payloads until the stream ends. */
export async function collectSse<T = any>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
  onPayload?: (payload: GraphQLResponse<T>) => void,
): Promise<Array<GraphQLResponse<T>>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.ok || !response.body) throw new Error(`SSE request failed: HTTP ${response.status}`);
  const results: Array<GraphQLResponse<T>> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (event === 'complete') return results;
      if (event === 'next' && data) {
        results.push(JSON.parse(data));
        onPayload?.(results.at(-1) as GraphQLResponse<T>);
      }
    }
  }
  return results;
}

export const EVENT_FIELDS = /* GraphQL */ `
  __typename
  sequence
  generation { id status }
  ... on VideoGenerationStatusEvent { status queuePosition }
  ... on VideoGenerationLogEvent { log { sequence message level timestamp } }
`;

export const EVENTS_SUBSCRIPTION = /* GraphQL */ `
  subscription Events($id: ID!, $after: Int) {
    videoGenerationEvents(id: $id, afterSequence: $after) { ${EVENT_FIELDS} }
  }
`;

export const GENERATE = /* GraphQL */ `
  mutation Generate($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      __typename
      ... on GenerateVideoSuccess { generation { id status falRequestId backend queuePosition } }
      ... on InputValidationError { message fieldErrors { path message } }
    }
  }
`;

function describeError(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error) {
    const e = error as { code: number; reason?: string };
    return `WebSocket closed with ${e.code} ${e.reason ?? ''}`.trim();
  }
  return JSON.stringify(error);
}
