import type { Generation, SqlSession } from '../db/index.ts';
import { InputValidationError, type FieldProblem } from './errors.ts';
import type { Caller } from './caller.ts';
import { historyPageRows, historyPageSql, positionSql, type HistoryColumn, type HistorySqlRow } from './history-sql.ts';
import type { GenerationStatus } from './status.ts';

export type { HistoryColumn } from './history-sql.ts';
export { HISTORY_COLUMNS } from './history-sql.ts';

/** What a history listing may be narrowed by; every part is optional and they combine with AND. */
export interface HistoryFilter {
  status?: readonly GenerationStatus[] | null;
  backend?: 'FAL' | 'SIMULATOR' | null;
  /** Full text over the prompt and the shot prompts (web search syntax: words, "a phrase", or, -word). */
  search?: string | null;
  /** Created at or after this instant. */
  createdAfter?: Date | null;
  /** Created strictly before this instant. */
  createdBefore?: Date | null;
}

/** A place in the history order: the (createdAt, id) of a row, which need not exist (any more) or match a filter. */
export interface HistoryPosition {
  createdAt: Date;
  id: string;
}

/** One page, keyset style: at most `limit` rows strictly past `from` (or from the start), in one direction. */
export interface HistoryPage {
  /** Exclusive: the page starts just past this position. */
  from?: HistoryPosition | null;
  /** false: older rows (Relay first/after); true: newer rows, ending at `from` or at the oldest row (last/before). */
  backwards: boolean;
  limit: number;
}

/** A listed row: Generation's fields, of which only the columns a page asked for are filled. */
export type HistoryRow = Generation;

export const MAX_SEARCH_LENGTH = 200;

/** Input problems of a filter, with paths from `path` (the argument's name) down; empty when it is fine. */
export function checkHistoryFilter(filter: HistoryFilter, path: string[] = ['filter']): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (filter.search !== undefined && filter.search !== null) {
    if (filter.search.trim() === '')
      problems.push({ path: [...path, 'search'], message: 'must not be empty (leave it out to match everything)' });
    else if (filter.search.length > MAX_SEARCH_LENGTH)
      problems.push({ path: [...path, 'search'], message: `must be at most ${MAX_SEARCH_LENGTH} characters` });
  }
  if (filter.createdAfter && filter.createdBefore && filter.createdAfter.getTime() >= filter.createdBefore.getTime())
    problems.push({ path: [...path, 'createdAfter'], message: 'must be earlier than createdBefore' });
  return problems;
}

/**
 * Where a cursor that carries only an id (the format before keyset cursors) points: the row's position, read
 * once; null for an id the caller may not see, so a foreign row's cursor tells nothing about it.
 */
export async function positionOf(sql: SqlSession, caller: Caller, id: string): Promise<HistoryPosition | null> {
  const { text, params } = positionSql(caller, id);
  const [row] = await sql.query<HistorySqlRow>(text, params);
  return row ? { id: row.id, createdAt: new Date(row.createdAt) } : null;
}

/**
 * One page of a caller's history under `filter`, in history order (newest first) whatever the direction, with
 * `columns` (and always id and createdAt) of each row. Throws InputValidationError for a bad filter.
 *
 * Keyset paging: the page is the first `limit` rows past `from` in the index order of (tenantId, createdAt
 * DESC, id DESC) or (createdAt DESC, id DESC), found by the row comparison `(createdAt, id) < (c, i)`, so page
 * 100 reads as few index entries as page 1 (Prisma's own cursor pagination compares against a sub-select in an
 * OR, which PostgreSQL can only apply as a filter: every row before the cursor was read and dropped). One
 * statement on the driver (see history-sql.ts), a search included.
 */
export async function listGenerations(
  sql: SqlSession,
  caller: Caller,
  filter: HistoryFilter | null | undefined,
  page: HistoryPage,
  columns: readonly HistoryColumn[],
): Promise<HistoryRow[]> {
  const f = filter ?? {};
  const problems = checkHistoryFilter(f);
  if (problems.length > 0) throw new InputValidationError(problems);
  const { text, params } = historyPageSql(caller, f, page, columns);
  const rows = historyPageRows(await sql.query<{ page: HistorySqlRow[] | null }>(text, params), columns);
  // The rows hold the columns asked for only; the GraphQL type's row is the full model, and no field reads the rest.
  const listed = rows as unknown as HistoryRow[];
  return page.backwards ? listed.reverse() : listed;
}
