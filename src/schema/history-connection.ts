import { decodeBase64, decodeCursorChunk, encodeBase64, encodeCursorTuple, PothosValidationError } from '@pothos/core';
import { queryFromInfo } from '@pothos/plugin-prisma';
import type { GraphQLResolveInfo } from 'graphql';
import type { Generation } from '../db/index.ts';
import { InputValidationError } from '../generations/errors.ts';
import {
  checkHistoryFilter,
  listGenerations,
  positionOf,
  type HistoryFilter,
  type HistoryPosition,
} from '../generations/list-generations.ts';
import { isUuid } from '../lib/uuid.ts';
import type { GraphQLContext } from './context.ts';

/**
 * videoGenerations as a keyset-paged Relay connection. Pothos' prismaConnection can only put one column (or a
 * unique index) in a cursor and pages with Prisma's cursor, whose cost grows with the depth of the page; this
 * keeps its cursor encoding, page sizes and Relay semantics and pages from (createdAt, id) instead.
 *
 * A cursor is base64 of `GPC:T:["D:<createdAt ms>","S:<id>"]` (Pothos' compound cursor), so a page needs no
 * read to know where it starts. A cursor from before, `GPC:S:<id>`, still works: its row's position is read
 * once. Either stays valid under any filter, since a position need not be a row the filter matches.
 */

/** Pothos' prisma connection defaults: 20 rows unless first/last says otherwise, never more than 100. */
const DEFAULT_SIZE = 20;
const MAX_SIZE = 100;

export interface HistoryArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
  filter?: HistoryFilter | null;
}

export interface HistoryConnection {
  edges: Array<{ cursor: string; node: Generation }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export function historyCursor(row: HistoryPosition): string {
  return encodeBase64(`GPC:${encodeCursorTuple([row.createdAt, row.id])}`);
}

/** A cursor's position, or its id alone (the old format); throws PothosValidationError as Pothos did. */
export function parseHistoryCursor(cursor: string): { position: HistoryPosition } | { id: string } {
  let value: unknown;
  try {
    const decoded = decodeBase64(cursor);
    if (!decoded.startsWith('GPC:')) throw new Error('not a cursor');
    value = decodeCursorChunk(decoded.slice(4));
  } catch {
    throw new PothosValidationError(`Invalid cursor: ${cursor}`);
  }
  if (typeof value === 'string' && isUuid(value)) return { id: value.toLowerCase() };
  if (Array.isArray(value) && value.length === 2) {
    const [createdAt, id] = value as unknown[];
    if (createdAt instanceof Date && !Number.isNaN(createdAt.getTime()) && typeof id === 'string' && isUuid(id))
      return { position: { createdAt, id: id.toLowerCase() } };
  }
  throw new PothosValidationError(`Invalid cursor: ${cursor}`);
}

export async function resolveHistoryConnection(
  args: HistoryArgs,
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  columns: Record<string, boolean>,
): Promise<HistoryConnection> {
  const { first, last, after, before } = args;
  // The same argument rules and messages as Pothos' prisma connections (prismaCursorConnectionQuery).
  if (first != null && first < 0) throw new PothosValidationError('Argument "first" must be a non-negative integer');
  if (last != null && last < 0) throw new PothosValidationError('Argument "last" must be a non-negative integer');
  if (before != null && after != null) throw new PothosValidationError('Arguments "before" and "after" are not supported at the same time');
  if (before != null && first != null) throw new PothosValidationError('Arguments "before" and "first" are not supported at the same time');
  if (after != null && last != null) throw new PothosValidationError('Arguments "after" and "last" are not supported at the same time');
  const size = Math.min(first ?? last ?? DEFAULT_SIZE, MAX_SIZE);
  const backwards = before != null || last != null;
  const cursor = before ?? after;

  // Checked here too: a page that reads nothing (below) still refuses a bad filter.
  const problems = checkHistoryFilter(args.filter ?? {});
  if (problems.length > 0) throw new InputValidationError(problems);

  let rows: Generation[] = [];
  const parsed = cursor == null ? null : parseHistoryCursor(cursor);
  const from = parsed === null ? null : 'position' in parsed ? parsed.position : await positionOf(ctx.db, ctx.caller, parsed.id);
  // An old cursor of a row the caller cannot see is an empty page, as Prisma's cursor on an unknown id was.
  if (parsed === null || from !== null) {
    // Pothos plans the relations the document asks for (as an `include`); the page reads those and `columns`,
    // not the whole row (see LISTED_COLUMNS).
    const planned = queryFromInfo({ context: ctx, info, paths: [['edges', 'node']], typeName: 'VideoGeneration' }) as {
      include?: Record<string, unknown>;
      select?: Record<string, unknown>;
    };
    const selection = { select: { ...columns, ...planned.select, ...planned.include } };
    rows = await listGenerations(ctx.db, ctx.caller, args.filter, { from, backwards, limit: size + 1 }, selection);
  }

  // One row more than the page was read to know whether more follow; it is the one furthest from the cursor.
  const full = rows.length > size;
  const nodes = full ? (backwards ? rows.slice(1) : rows.slice(0, size)) : rows;
  const edges = nodes.map((node) => ({ cursor: historyCursor(node), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: before != null ? true : last != null ? false : full,
      hasPreviousPage: after != null ? true : backwards ? full : false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
