import { Prisma, type PrismaClient } from '../db/index.ts';
import { isUuid } from '../lib/uuid.ts';
import { InputValidationError, type FieldProblem } from './errors.ts';
import { visibleTo, type Caller } from './service.ts';
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

/** One page in Prisma's cursor pagination terms (what a Relay connection resolver is handed). */
export interface HistoryPage {
  cursor?: { id?: string };
  skip?: number;
  /** Negative: the page ends at the cursor (Relay `last`/`before`). */
  take?: number;
}

export const MAX_SEARCH_LENGTH = 200;

/** Newest first; the id breaks ties between rows created in the same millisecond, so the order is total. */
export const HISTORY_ORDER = [{ createdAt: 'desc' }, { id: 'desc' }] satisfies Prisma.GenerationOrderByWithRelationInput[];

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
 * The Prisma `where` for one page of a caller's history under `filter`, to be used with HISTORY_ORDER and the
 * same `page` (cursor, skip, take). Throws InputValidationError for a bad filter.
 *
 * Prisma cannot query the tsvector column, so a search first finds, in SQL, the ids of the rows this page can
 * hold: the matching rows from the cursor on (the cursor row included, as Prisma's cursor skips it), in page
 * order, at most skip + |take| of them. Prisma's own cursor pagination then runs over just those ids, so cursors
 * mean the same with and without a search, and a page never reads more than its own rows from the index.
 */
export async function historyWhere(
  db: PrismaClient,
  caller: Caller,
  filter: HistoryFilter | null | undefined,
  page: HistoryPage = {},
): Promise<Prisma.GenerationWhereInput> {
  const f = filter ?? {};
  const problems = checkHistoryFilter(f);
  if (problems.length > 0) throw new InputValidationError(problems);
  const where: Prisma.GenerationWhereInput = {
    ...visibleTo(caller),
    ...(f.status?.length ? { status: { in: [...f.status] } } : {}),
    ...(f.backend ? { backend: f.backend } : {}),
    ...(f.createdAfter || f.createdBefore
      ? { createdAt: { ...(f.createdAfter ? { gte: f.createdAfter } : {}), ...(f.createdBefore ? { lt: f.createdBefore } : {}) } }
      : {}),
  };
  if (!f.search) return where;
  return { ...where, id: { in: await searchWindow(db, caller, f, f.search, page) } };
}

async function searchWindow(db: PrismaClient, caller: Caller, f: HistoryFilter, search: string, page: HistoryPage): Promise<string[]> {
  const take = page.take ?? 0;
  const backwards = take < 0;
  const cursorId = page.cursor?.id?.toLowerCase();
  if (cursorId !== undefined && !isUuid(cursorId)) return [];
  const conditions: Prisma.Sql[] = [Prisma.sql`g."searchVector" @@ websearch_to_tsquery('simple', ${search})`];
  if (!caller.admin) conditions.push(Prisma.sql`g."tenantId" = ${caller.tenantId}`);
  if (f.status?.length) conditions.push(Prisma.sql`g."status"::text IN (${Prisma.join([...f.status])})`);
  if (f.backend) conditions.push(Prisma.sql`g."backend"::text = ${f.backend}`);
  if (f.createdAfter) conditions.push(Prisma.sql`g."createdAt" >= ${f.createdAfter}`);
  if (f.createdBefore) conditions.push(Prisma.sql`g."createdAt" < ${f.createdBefore}`);
  if (cursorId !== undefined) {
    // Row comparison in the order's direction: (createdAt, id) descending, so "after" is smaller.
    const at = Prisma.sql`(SELECT c."createdAt", c."id" FROM "Generation" c WHERE c."id" = ${cursorId}::uuid)`;
    conditions.push(backwards ? Prisma.sql`(g."createdAt", g."id") >= ${at}` : Prisma.sql`(g."createdAt", g."id") <= ${at}`);
  }
  const order = backwards ? Prisma.sql`g."createdAt" ASC, g."id" ASC` : Prisma.sql`g."createdAt" DESC, g."id" DESC`;
  const limit = page.take === undefined ? Prisma.empty : Prisma.sql`LIMIT ${Math.abs(take) + (page.skip ?? 0)}::int`;
  const rows = await db.$queryRaw<Array<{ id: string }>>`
    SELECT g."id"::text AS id FROM "Generation" g
     WHERE ${Prisma.join(conditions, ' AND ')}
     ORDER BY ${order}
     ${limit}`;
  const ids = rows.map((r) => r.id);
  // A cursor from another filter may not match this search: Prisma's cursor still skips exactly that row.
  if (cursorId !== undefined && !ids.includes(cursorId)) ids.push(cursorId);
  return ids;
}
