import type { Generation } from '../db/index.ts';
import type { Caller } from './caller.ts';
import type { HistoryFilter, HistoryPage } from './list-generations.ts';

/**
 * The history page as one SQL statement for the driver (the pg pool or PGlite), built from fixed parts: the
 * columns asked for, the filter's conditions, the keyset position as a row comparison, and the order of the
 * index that serves it. Prisma's findMany cost more of the server's CPU for a 51-row page than the database took
 * to answer (its query compiler, argument and result mapping); this reads exactly the columns the document
 * selects, in the same one statement.
 *
 * Every parameter carries an explicit cast, so both drivers send it as text. Times go in as ISO strings ('...Z'
 * into `timestamp(3)`, which keeps UTC, as Prisma stores them) and come out as epoch milliseconds (float8),
 * never as `timestamp` values, which pg would read in the process' local time zone.
 */

/**
 * How each column a page may read is selected from the table aliased `t`, as the field of Prisma's Generation it
 * fills. The same set is what a write carries back for the events it publishes (generation-row.ts): every column a
 * VideoGeneration field reads.
 */
export function columnSql(t: string) {
  return {
    id: `${t}.id::text`,
    status: `${t}.status::text`,
    queuePosition: `${t}."queuePosition"`,
    endpointId: `${t}."endpointId"`,
    falRequestId: `${t}."falRequestId"`,
    backend: `${t}.backend::text`,
    imageUrl: `${t}."imageUrl"`,
    endImageUrl: `${t}."endImageUrl"`,
    prompt: `${t}.prompt`,
    multiPrompt: `${t}."multiPrompt"`,
    duration: `${t}.duration`,
    generateAudio: `${t}."generateAudio"`,
    shotType: `${t}."shotType"`,
    estimatedCostMicros: `${t}."estimatedCostMicros"`,
    errorCode: `${t}."errorCode"`,
    errorMessage: `${t}."errorMessage"`,
    createdAt: epochMs(t, 'createdAt'),
    updatedAt: epochMs(t, 'updatedAt'),
    startedAt: epochMs(t, 'startedAt'),
    completedAt: epochMs(t, 'completedAt'),
  } satisfies Partial<Record<keyof Generation, string>>;
}
const COLUMN_SQL = columnSql('g');

/** A column of Generation a history page can read (not falInput, the lease, idempotency or webhook columns). */
export type HistoryColumn = keyof typeof COLUMN_SQL;
export const HISTORY_COLUMNS = Object.keys(COLUMN_SQL) as HistoryColumn[];
export const TIME_COLUMNS: ReadonlySet<HistoryColumn> = new Set<HistoryColumn>(['createdAt', 'updatedAt', 'startedAt', 'completedAt']);

function epochMs(t: string, column: string): string {
  // Exact: extract() is numeric since PostgreSQL 14, and a millisecond count fits a float8's 53 bits.
  return `(extract(epoch FROM ${t}."${column}") * 1000)::float8`;
}

/** A row as the statement returns it: the columns asked for, times still in epoch milliseconds. */
export type HistorySqlRow = Record<string, unknown> & { id: string; createdAt: number };

/**
 * The page's statement and its parameters: at most `page.limit` rows past `page.from`, newest first (oldest
 * first when backwards). id and createdAt are always read (the cursor is made of them). A search is one more
 * condition of the same statement; whether the tsvector's GIN index or the keyset index serves it is the
 * planner's choice, by how selective the search is.
 */
export function historyPageSql(
  caller: Caller,
  filter: HistoryFilter,
  page: HistoryPage,
  columns: Iterable<HistoryColumn>,
): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const param = (value: unknown, cast: string) => `$${params.push(value)}::${cast}`;
  const wanted = new Set<HistoryColumn>(columns);
  wanted.add('id').add('createdAt');
  const select = [...wanted].map((column) => `${COLUMN_SQL[column]} AS "${column}"`).join(', ');

  const where: string[] = [];
  if (!caller.admin) where.push(`g."tenantId" = ${param(caller.tenantId, 'text')}`);
  if (filter.status?.length) where.push(`g.status = ANY(${param(filter.status, 'text[]')}::"GenerationStatus"[])`);
  if (filter.backend) where.push(`g.backend = ${param(filter.backend, 'text')}::"FalBackend"`);
  if (filter.createdAfter) where.push(`g."createdAt" >= ${param(filter.createdAfter.toISOString(), 'timestamp(3)')}`);
  if (filter.createdBefore) where.push(`g."createdAt" < ${param(filter.createdBefore.toISOString(), 'timestamp(3)')}`);
  if (filter.search) where.push(`g."searchVector" @@ websearch_to_tsquery('simple', ${param(filter.search, 'text')})`);
  if (page.from) {
    // A row comparison is one index condition on (createdAt, id): the scan starts at the cursor and reads
    // nothing before it, whatever the depth.
    const at = `(${param(page.from.createdAt.toISOString(), 'timestamp(3)')}, ${param(page.from.id, 'uuid')})`;
    where.push(`(g."createdAt", g.id) ${page.backwards ? '>' : '<'} ${at}`);
  }
  const direction = page.backwards ? 'ASC' : 'DESC';
  const rows =
    `SELECT ${select} FROM "Generation" g` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY g."createdAt" ${direction}, g.id ${direction} LIMIT ${param(page.limit, 'int')}`;
  // The page as one json value (both drivers parse json): a driver decodes each value of each row on its own
  // (PGlite copies and text-decodes every one, ~250 for a 51-row page of five columns), which cost more of the
  // server's core than the query; one value is one decode and one JSON.parse. The aggregate's ORDER BY keeps
  // the statement's order (a uuid's text in "C" order is its byte order).
  const text =
    `SELECT coalesce(json_agg(p ORDER BY p."createdAt" ${direction}, p.id COLLATE "C" ${direction}), '[]'::json) AS page ` +
    `FROM (${rows}) p`;
  return { text, params };
}

/** The (createdAt, id) of one row the caller may see, for a cursor that names only its id. */
export function positionSql(caller: Caller, id: string): { text: string; params: unknown[] } {
  return caller.admin
    ? {
        text: `SELECT g.id::text AS id, ${epochMs('g', 'createdAt')} AS "createdAt" FROM "Generation" g WHERE g.id = $1::uuid`,
        params: [id],
      }
    : {
        text: `SELECT g.id::text AS id, ${epochMs('g', 'createdAt')} AS "createdAt" FROM "Generation" g WHERE g.id = $1::uuid AND g."tenantId" = $2::text`,
        params: [id, caller.tenantId],
      };
}

/** The page statement's result (one row, its `page`) as Generation-shaped rows: times become Dates. */
export function historyPageRows(result: Array<{ page: HistorySqlRow[] | null }>, columns: Iterable<HistoryColumn>): HistorySqlRow[] {
  const rows = result[0]?.page ?? [];
  decodeHistoryRows(rows, columns);
  return rows;
}

/** Turns the statement's rows into Generation-shaped rows in place: times become Dates. */
export function decodeHistoryRows(rows: HistorySqlRow[], columns: Iterable<HistoryColumn>): void {
  const times = [...new Set(columns)].filter((column) => TIME_COLUMNS.has(column) && column !== 'createdAt');
  for (const row of rows as Array<Record<string, unknown>>) {
    row.createdAt = new Date(row.createdAt as number);
    for (const column of times) {
      const value = row[column];
      if (value !== null) row[column] = new Date(value as number);
    }
  }
}
