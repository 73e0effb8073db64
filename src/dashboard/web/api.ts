import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import type { Kind } from 'graphql';
import { print } from 'graphql/language/printer.js';
import { backoffDelay } from '../../lib/backoff.ts';

/**
 * The dashboard's GraphQL transport, in the browser: queries and mutations over HTTP (JSON, or the GraphQL
 * multipart request spec when the variables hold a File), subscriptions over graphql-ws. Both carry the API key
 * (`Authorization: Bearer`, and graphql-ws `connectionParams.authorization`), and every HTTP request carries the
 * CSRF header the server requires of browsers.
 */

export const GRAPHQL_PATH = '/graphql';
export const CSRF_HEADER = 'x-graphql-yoga-csrf';
/** The server refuses a rejected or missing key with this graphql-ws close code. */
export const CLOSE_FORBIDDEN = 4403;

export class AuthError extends Error {}

export interface ApiOptions {
  apiKey: string | null;
  /** A missing or rejected key (HTTP 401/403, or the socket closed with 4403). */
  onAuthProblem: (message: string) => void;
  onConnection: (state: 'connecting' | 'live' | 'reconnecting' | 'rejected') => void;
  /** After every (re)connection: a chance to re-read what may have been missed while disconnected. */
  onConnected?: () => void;
}

export interface Api {
  request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): Promise<R>;
  subscribe<R, V extends Record<string, unknown>>(
    document: TypedDocumentNode<R, V>,
    variables: V,
    sink: { next: (data: R) => void; error?: (error: unknown) => void; complete?: () => void },
  ): () => void;
  dispose(): void;
}

/**
 * A query of public fields only (serverInfo), sent without the key as a GET: the server answers it even when it
 * needs a key for everything else, so the page can say what the server is and that it wants a key.
 */
export async function publicQuery<R>(document: TypedDocumentNode<R, Record<string, never>>): Promise<R> {
  const url = new URL(GRAPHQL_PATH, location.origin);
  url.searchParams.set('query', source(document));
  const name = operationName(document);
  if (name) url.searchParams.set('operationName', name);
  const response = await fetch(url, {
    headers: { accept: 'application/graphql-response+json, application/json', [CSRF_HEADER]: 'reelgraph' },
  });
  const result = (await response.json().catch(() => ({}))) as GraphQLResult<R>;
  if (!result.data) throw new Error(result.errors ? describeErrors(result.errors) : `HTTP ${response.status} from the server`);
  return result.data;
}

const printed = new WeakMap<object, string>();
function source(document: TypedDocumentNode<unknown, never>): string {
  let text = printed.get(document);
  if (!text) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

// graphql's Kind enum as a value is not served to the browser; its string is the same.
const OPERATION_DEFINITION = 'OperationDefinition' as Kind.OPERATION_DEFINITION;

function operationName(document: TypedDocumentNode<unknown, never>): string | undefined {
  for (const definition of document.definitions) {
    if (definition.kind === OPERATION_DEFINITION) return definition.name?.value;
  }
  return undefined;
}

/** Replaces every File in the variables by null and lists where each one was (multipart request spec). */
function extractFiles(value: unknown, path: string, files: Array<{ path: string; file: File }>): unknown {
  if (typeof File !== 'undefined' && value instanceof File) {
    files.push({ path, file: value });
    return null;
  }
  if (Array.isArray(value)) return value.map((item, i) => extractFiles(item, `${path}.${i}`, files));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, extractFiles(item, `${path}.${key}`, files)]));
  }
  return value;
}

type GraphQLResult<R> = { data?: R | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };

function describeErrors(errors: ReadonlyArray<{ message: string }>): string {
  return errors.map((e) => e.message).join('; ');
}

export function createApi(options: ApiOptions): Api {
  const origin = location.origin;
  const authHeader = options.apiKey ? `Bearer ${options.apiKey}` : null;

  async function request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    const headers: Record<string, string> = {
      accept: 'application/graphql-response+json, application/json',
      [CSRF_HEADER]: 'reelgraph',
    };
    if (authHeader) headers.authorization = authHeader;
    const files: Array<{ path: string; file: File }> = [];
    const operations = {
      query: source(document),
      operationName: operationName(document),
      variables: extractFiles(variables, 'variables', files),
    };
    let body: string | FormData;
    if (files.length > 0) {
      // https://github.com/jaydenseric/graphql-multipart-request-spec: operations, then map, then the files.
      const form = new FormData();
      form.append('operations', JSON.stringify(operations));
      form.append('map', JSON.stringify(Object.fromEntries(files.map((f, i) => [String(i), [f.path]]))));
      files.forEach((f, i) => form.append(String(i), f.file, f.file.name));
      body = form;
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(operations);
    }
    const response = await fetch(`${origin}${GRAPHQL_PATH}`, { method: 'POST', headers, body });
    if (response.status === 401 || response.status === 403) {
      const message = options.apiKey ? 'API key invalid: the server refused it.' : 'API key required: enter one above.';
      options.onAuthProblem(message);
      throw new AuthError(message);
    }
    let result: GraphQLResult<R>;
    try {
      result = (await response.json()) as GraphQLResult<R>;
    } catch {
      throw new Error(`HTTP ${response.status} from the server`);
    }
    const authError = result.errors?.find((e) => e.extensions?.code === 'UNAUTHENTICATED' || e.extensions?.code === 'FORBIDDEN');
    if (authError) {
      options.onAuthProblem(`API key ${options.apiKey ? 'invalid' : 'required'}: ${authError.message}`);
      throw new AuthError(authError.message);
    }
    if (!result.data) throw new Error(result.errors ? describeErrors(result.errors) : `HTTP ${response.status} without data`);
    return result.data;
  }

  const ws: Client = createClient({
    url: `${origin.replace(/^http/, 'ws')}${GRAPHQL_PATH}`,
    connectionParams: () => (authHeader ? { authorization: authHeader } : {}),
    lazy: false,
    // Connection problems are reported through on.closed (4403) and the connection state, not the console.
    onNonLazyError: () => {},
    retryAttempts: Infinity,
    // A refused key stays refused: stop and say so instead of reconnecting forever.
    shouldRetry: (event) => !(event && typeof event === 'object' && 'code' in event && event.code === CLOSE_FORBIDDEN),
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, backoffDelay(retries + 1, { baseMs: 500, maxMs: 10_000, jitter: true }))),
    on: {
      connecting: (isRetry) => options.onConnection(isRetry ? 'reconnecting' : 'connecting'),
      connected: () => {
        options.onConnection('live');
        options.onConnected?.();
      },
      closed: (event) => {
        const code = event && typeof event === 'object' && 'code' in event ? (event as { code: number }).code : 0;
        if (code === CLOSE_FORBIDDEN) {
          options.onConnection('rejected');
          options.onAuthProblem(
            options.apiKey
              ? 'API key invalid: the server closed the live connection (4403).'
              : 'API key required: enter one above (the server closed the live connection, 4403).',
          );
        }
      },
    },
  });

  function subscribe<R, V extends Record<string, unknown>>(
    document: TypedDocumentNode<R, V>,
    variables: V,
    sink: { next: (data: R) => void; error?: (error: unknown) => void; complete?: () => void },
  ): () => void {
    return ws.subscribe<R>(
      {
        query: source(document),
        operationName: operationName(document),
        variables,
      },
      {
        next: (result) => {
          if (result.data) sink.next(result.data);
          else if (result.errors) sink.error?.(new Error(describeErrors(result.errors)));
        },
        error: (error) => sink.error?.(error),
        complete: () => sink.complete?.(),
      },
    );
  }

  return { request, subscribe, dispose: () => void ws.dispose() };
}
