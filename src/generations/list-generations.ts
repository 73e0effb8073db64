import { Prisma, type Generation, type PrismaClient } from '../db/index.ts';
import { InputValidationError, type FieldProblem } from './errors.ts';
import { visibleTo, type Caller } from './caller.ts';
import type { GenerationStatus } from './status.ts';

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

/** What a page reads of each row: Pothos' selection for the fields asked for. */
export type HistorySelection = Pick<Prisma.GenerationFindManyArgs, 'select'>;

export const MAX_SEARCH_LENGTH = 200;

/** Newest first; the id breaks ties between rows created in the same millisecond, so the order is total. */
export const HISTORY_ORDER = [{ createdAt: 'desc' }, { id: 'desc' }] satisfies Prisma.GenerationOrderByWithRelationInput[];
const REVERSED_ORDER = [{ createdAt: 'asc' }, { id: 'asc' }] satisfies Prisma.GenerationOrderByWithRelationInput[];

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
export async function positionOf(db: PrismaClient, caller: Caller, id: string): Promise<HistoryPosition | null> {
  return db.generation.findFirst({ where: { id, ...visibleTo(caller) }, select: { createdAt: true, id: true } });
}

/**
 * One page of a caller's history under `filter`, in history order (newest first) whatever the direction.
 * Throws InputValidationError for a bad filter.
 *
 * Keyset paging: the page is the first `limit` rows past `from` in the index order of (tenantId, createdAt
 * DESC, id DESC) or (createdAt DESC, id DESC), so page 100 reads as few index entries as page 1 (Prisma's own
 * cursor pagination compares against a sub-select in an OR, which PostgreSQL can only apply as a filter: every
 * row before the cursor was read and dropped). The position test is written as Prisma `where`:
 * `createdAt <= c AND (createdAt < c OR id < i)`, which is `(createdAt, id) < (c, i)`; its first half is the
 * index condition that starts the scan at the cursor, the second drops the rows of the same millisecond up to
 * it. One statement this way; a $queryRaw row comparison for the ids and a findMany by ids was two, and cost
 * more of the server's CPU per page (0.9 against 0.6-0.7 ms on PostgreSQL, 51 rows, scratch measurement).
 */
export async function listGenerations(
  db: PrismaClient,
  caller: Caller,
  filter: HistoryFilter | null | undefined,
  page: HistoryPage,
  selection: HistorySelection,
): Promise<Generation[]> {
  const f = filter ?? {};
  const problems = checkHistoryFilter(f);
  if (problems.length > 0) throw new InputValidationError(problems);
  const orderBy = page.backwards ? REVERSED_ORDER : HISTORY_ORDER;
  // With a search the ids are the page (found in SQL, filter and tenant included); the filter is repeated
  // around them all the same, so a mistake there can never show a row the caller may not see.
  const position = f.search
    ? { id: { in: await searchPage(db, caller, f, f.search, page) } }
    : page.from
      ? pastPosition(page.from, page.backwards)
      : {};
  const where = { AND: [filterWhere(caller, f), position] };
  const take = f.search ? undefined : page.limit;
  // The rows hold the selected columns only; Pothos' row type is the full model, and no field reads the rest.
  const rows: Generation[] = await db.generation.findMany<Prisma.GenerationFindManyArgs>({ ...selection, where, orderBy, take });
  return page.backwards ? rows.reverse() : rows;
}

function filterWhere(caller: Caller, f: HistoryFilter): Prisma.GenerationWhereInput {
  return {
    ...visibleTo(caller),
    ...(f.status?.length ? { status: { in: [...f.status] } } : {}),
    ...(f.backend ? { backend: f.backend } : {}),
    ...(f.createdAfter || f.createdBefore
      ? { createdAt: { ...(f.createdAfter ? { gte: f.createdAfter } : {}), ...(f.createdBefore ? { lt: f.createdBefore } : {}) } }
      : {}),
  };
}

/** `(createdAt, id) < (c, i)` (older) or `> (c, i)` (newer), with the bound on createdAt the index can seek to. */
export function pastPosition(at: HistoryPosition, newer: boolean): Prisma.GenerationWhereInput {
  return newer
    ? { createdAt: { gte: at.createdAt }, OR: [{ createdAt: { gt: at.createdAt } }, { id: { gt: at.id } }] }
    : { createdAt: { lte: at.createdAt }, OR: [{ createdAt: { lt: at.createdAt } }, { id: { lt: at.id } }] };
}

/**
 * Prisma cannot query the tsvector column, so a search finds the page's ids in SQL, with a real row comparison
 * for the position, in page order, and the page then reads just those rows.
 */
async function searchPage(db: PrismaClient, caller: Caller, f: HistoryFilter, search: string, page: HistoryPage): Promise<string[]> {
  const conditions: Prisma.Sql[] = [Prisma.sql`g."searchVector" @@ websearch_to_tsquery('simple', ${search})`];
  if (!caller.admin) conditions.push(Prisma.sql`g."tenantId" = ${caller.tenantId}`);
  if (f.status?.length) conditions.push(Prisma.sql`g."status"::text IN (${Prisma.join([...f.status])})`);
  if (f.backend) conditions.push(Prisma.sql`g."backend"::text = ${f.backend}`);
  if (f.createdAfter) conditions.push(Prisma.sql`g."createdAt" >= ${f.createdAfter}`);
  if (f.createdBefore) conditions.push(Prisma.sql`g."createdAt" < ${f.createdBefore}`);
  if (page.from) {
    const at = Prisma.sql`(${page.from.createdAt}, ${page.from.id}::uuid)`;
    conditions.push(page.backwards ? Prisma.sql`(g."createdAt", g."id") > ${at}` : Prisma.sql`(g."createdAt", g."id") < ${at}`);
  }
  const order = page.backwards ? Prisma.sql`g."createdAt" ASC, g."id" ASC` : Prisma.sql`g."createdAt" DESC, g."id" DESC`;
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    SELECT g."id"::text AS id FROM "Generation" g
     WHERE ${Prisma.join(conditions, ' AND ')}
     ORDER BY ${order}
     LIMIT ${page.limit}::int`;
  return rows.map((r) => r.id);
}
