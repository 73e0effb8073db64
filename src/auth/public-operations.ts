import { Kind, OperationTypeNode, parse, type DocumentNode } from 'graphql';
import type { Identity } from './authenticator.ts';

/**
 * The one thing a request without an API key may ask once keys are required: `serverInfo` (backend, version,
 * whether a key is needed), so a dashboard can show the simulator banner and the "API key required" state before a
 * key is entered. ServerInfo holds nothing tenant-specific and no secret. Only an HTTP GET qualifies: its query is in
 * the URL, so nothing of an unauthenticated request's body is ever read, and GET cannot carry a mutation.
 */
export const PUBLIC_ROOT_FIELDS: ReadonlySet<string> = new Set(['serverInfo', '__typename']);

// A document bigger than this is not the small public query; parsing stops there (untrusted input, before auth).
const MAX_TOKENS = 200;

/**
 * The identity public operations run as. The NUL byte makes it a tenant id no key can have (names are checked in
 * keys.ts) and that PostgreSQL refuses in text, so a tenant-scoped read that ever ran as it would fail, not leak.
 */
export const PUBLIC_IDENTITY: Identity = { caller: { tenantId: '\u0000public', admin: false }, keyId: null };

/** True when every operation in `query` is a query selecting only public root fields (no fragments at the root). */
export function isPublicQuery(query: string | null): boolean {
  if (!query) return false;
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: MAX_TOKENS, noLocation: true });
  } catch {
    return false;
  }
  return document.definitions.every(
    (definition) =>
      definition.kind === Kind.OPERATION_DEFINITION &&
      definition.operation === OperationTypeNode.QUERY &&
      definition.selectionSet.selections.every(
        (selection) => selection.kind === Kind.FIELD && PUBLIC_ROOT_FIELDS.has(selection.name.value),
      ),
  );
}

/** The `query` parameter of a GET request's URL, where a public operation must be. */
export function publicQueryOf(method: string, url: string | undefined): string | null {
  if (method !== 'GET' || !url) return null;
  return new URL(url, 'http://localhost').searchParams.get('query');
}
