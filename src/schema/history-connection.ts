import { decodeBase64, decodeCursorChunk, PothosValidationError } from '@pothos/core';
import { queryFromInfo } from '@pothos/plugin-prisma';
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { Generation } from '../db/index.ts';
import { visibleTo } from '../generations/caller.ts';
import { InputValidationError } from '../generations/errors.ts';
import {
  checkHistoryFilter,
  HISTORY_COLUMNS,
  listGenerations,
  positionOf,
  type HistoryColumn,
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

/** The columns each field of the node type reads from its row, or 'relation' (read by Prisma after the page). */
export type FieldColumns = Readonly<Record<string, readonly HistoryColumn[] | 'relation'>>;

export function historyCursor(row: HistoryPosition): string {
  // What Pothos' encodeBase64(`GPC:${encodeCursorTuple([createdAt, id])}`) writes, byte for byte (a uuid needs no
  // JSON escaping), without its per-value type dispatch and array: 51 of these per page showed in the profile.
  return btoa(`GPC:T:["D:${row.createdAt.getTime()}","S:${row.id}"]`);
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

/**
 * One page: the rows on the driver (one statement, with exactly the columns the selected fields read), then the
 * relations the document selects, if any, by Prisma for the page's ids.
 */
export async function resolveHistoryConnection(
  args: HistoryArgs,
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  fieldColumns: FieldColumns,
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
  const from = parsed === null ? null : 'position' in parsed ? parsed.position : await positionOf(ctx.sql, ctx.caller, parsed.id);
  // An old cursor of a row the caller cannot see is an empty page, as Prisma's cursor on an unknown id was.
  if (parsed === null || from !== null) {
    const selected = nodeSelection(info, fieldColumns);
    rows = await listGenerations(ctx.sql, ctx.caller, args.filter, { from, backwards, limit: size + 1 }, selected.columns);
    if (selected.relations) await readRelations(rows, ctx, info);
  }

  // One row more than the page was read to know whether more follow; it is the one furthest from the cursor.
  const full = rows.length > size;
  const nodes = full ? (backwards ? rows.slice(1) : rows.slice(0, size)) : rows;
  return {
    edges: nodes.map((node) => new HistoryEdge(node)),
    pageInfo: {
      hasNextPage: before != null ? true : last != null ? false : full,
      hasPreviousPage: after != null ? true : backwards ? full : false,
      startCursor: nodes.length > 0 ? historyCursor(nodes[0]) : null,
      endCursor: nodes.length > 0 ? historyCursor(nodes[nodes.length - 1]) : null,
    },
  };
}

/** An edge whose cursor is encoded only if the document asks for it (a list usually pages by endCursor alone). */
class HistoryEdge {
  readonly node: Generation;
  constructor(node: Generation) {
    this.node = node;
  }
  get cursor(): string {
    return historyCursor(this.node);
  }
}

/**
 * The relations the document selects on the nodes (`video`, `logs`), as Pothos plans them, read by Prisma for
 * the page's ids and set on its rows: Pothos then resolves them from the rows as from its own query. One more
 * statement, and only when a relation is asked for (Prisma, too, read a relation with a statement of its own).
 */
async function readRelations(rows: Generation[], ctx: GraphQLContext, info: GraphQLResolveInfo): Promise<void> {
  const planned = queryFromInfo({ context: ctx, info, paths: [['edges', 'node']], typeName: 'VideoGeneration' }) as {
    include?: Record<string, unknown>;
    select?: Record<string, unknown>;
  };
  const relations = { ...planned.select, ...planned.include };
  if (rows.length === 0 || Object.keys(relations).length === 0) return;
  const byId = new Map(rows.map((row) => [row.id, row]));
  // The caller's filter again: the ids are the caller's already, and a mistake must never show another's row.
  const loaded = await ctx.db.generation.findMany({
    where: { id: { in: [...byId.keys()] }, ...visibleTo(ctx.caller) },
    select: { ...relations, id: true },
  });
  for (const { id, ...related } of loaded) Object.assign(byId.get(id)!, related);
}

/**
 * What the selected fields of `edges { node { ... } }` read (through fragments, whatever their type condition):
 * the columns, so the page reads only those, and whether any is a relation. A field `fieldColumns` does not
 * know reads every column and may be a relation.
 */
export function nodeSelection(info: GraphQLResolveInfo, fieldColumns: FieldColumns): { columns: HistoryColumn[]; relations: boolean } {
  const columns = new Set<HistoryColumn>();
  let unknown = false;
  let relations = false;
  const visit = (set: SelectionSetNode | undefined, path: readonly string[]): void => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (path.length > 0) {
          if (name === path[0]) visit(selection.selectionSet, path.slice(1));
        } else if (!Object.hasOwn(fieldColumns, name)) {
          unknown = true;
        } else if (fieldColumns[name] === 'relation') {
          relations = true;
        } else {
          for (const column of fieldColumns[name]) columns.add(column);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, path);
      } else {
        visit(info.fragments[selection.name.value]?.selectionSet, path);
      }
    }
  };
  for (const node of info.fieldNodes) visit(node.selectionSet, ['edges', 'node']);
  return unknown ? { columns: HISTORY_COLUMNS, relations: true } : { columns: [...columns], relations };
}
