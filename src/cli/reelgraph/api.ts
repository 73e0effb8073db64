import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { errorMessage } from '../../lib/errors.ts';

export interface Connection {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql. */
  url: string;
  /** API key, sent as `Authorization: Bearer <key>`; never printed. */
  apiKey: string | null;
}

/** A failure talking to the server (transport, HTTP status or GraphQL errors), with a message for people. */
export class ServerError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = 'ServerError';
    this.retryable = retryable;
  }
}

/** Yoga's CSRF prevention: requests without this header are refused (multipart uploads are "simple" requests). */
const CSRF_HEADER = { 'x-graphql-yoga-csrf': 'reelgraph' };

function headers(connection: Connection): Record<string, string> {
  return {
    ...CSRF_HEADER,
    accept: 'application/graphql-response+json, application/json',
    ...(connection.apiKey ? { authorization: `Bearer ${connection.apiKey}` } : {}),
  };
}

/** A query or mutation over HTTP with a typed document. Files (path -> local file) go as a GraphQL multipart request. */
export async function request<D extends TypedDocumentNode<any, any>>(
  connection: Connection,
  document: D,
  variables: VariablesOf<D>,
  files: Array<{ variablePath: string; filePath: string }> = [],
): Promise<ResultOf<D>> {
  const operations = JSON.stringify({ query: print(document), variables });
  let body: BodyInit;
  const sent = headers(connection);
  if (files.length > 0) {
    // https://github.com/jaydenseric/graphql-multipart-request-spec: operations, map, then the files.
    const form = new FormData();
    form.set('operations', operations);
    form.set('map', JSON.stringify(Object.fromEntries(files.map((f, i) => [String(i), [`variables.${f.variablePath}`]]))));
    for (const [i, f] of files.entries()) {
      let blob: Blob;
      try {
        if (!(await stat(f.filePath)).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
        blob = await openAsBlob(f.filePath);
      } catch (error) {
        throw new UsageError(`cannot read ${f.filePath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      form.set(String(i), blob, basename(f.filePath));
    }
    body = form;
  } else {
    body = operations;
    sent['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(connection.url, { method: 'POST', headers: sent, body });
  } catch (error) {
    throw new ServerError(`cannot reach ${connection.url} (${describeCause(error)})`, true);
  }
  const text = await response.text();
  let json: { data?: ResultOf<D> | null; errors?: Array<{ message: string }> } | null = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: reported below with the status
  }
  if (response.status === 401 || response.status === 403) {
    throw new ServerError(
      `the server refused the request (HTTP ${response.status}): ${json?.errors?.[0]?.message ?? 'check --api-key / REELGRAPH_API_KEY'}`,
      false,
    );
  }
  if (json?.errors?.length) throw new ServerError(json.errors.map((e) => e.message).join('; '), response.status >= 500);
  if (!response.ok || !json?.data) {
    throw new ServerError(
      `the server answered HTTP ${response.status}${json?.errors ? '' : `: ${text.slice(0, 200)}`}`,
      response.status >= 500,
    );
  }
  return json.data;
}

/** A graphql-ws client for subscriptions. It does not retry by itself: watch.ts resumes from the last sequence. */
export function subscriptionClient(connection: Connection): Client {
  return createClient({
    url: connection.url.replace(/^http/, 'ws'),
    lazy: true,
    retryAttempts: 0,
    connectionParams: connection.apiKey ? { authorization: `Bearer ${connection.apiKey}` } : {},
  });
}

/** A mistake in how the CLI was called (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? errorMessage(error);
}
