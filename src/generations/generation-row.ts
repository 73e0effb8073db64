import type { Generation } from '../db/index.ts';
import { columnSql, HISTORY_COLUMNS, TIME_COLUMNS, type HistoryColumn } from './history-sql.ts';

/**
 * The generation row as a write left it, carried by the events that write publishes in this process (issue #15),
 * so `generation { ... }` on them is answered without reading the row again: at 2,000 streams every write batch
 * holds 1-5 lines, and its one Prisma read was a major part of the server's work.
 *
 * The columns are every column a VideoGeneration field reads (the history page's set, history-sql.ts) and the
 * owner, each with exactly the value and type Prisma's Generation has for it (test/e2e/written-row.test.ts
 * compares them with findUnique): times are Dates in UTC, enums strings, Json parsed, absent values null.
 */
export type WrittenRow = Pick<Generation, HistoryColumn | 'tenantId'>;

/** The keys a WrittenRow holds (a `select` of Prisma may ask for these only, see schema/event-loader.ts). */
export const WRITTEN_COLUMNS: ReadonlySet<string> = new Set<string>([...HISTORY_COLUMNS, 'tenantId']);

/**
 * The row of the table aliased `t` as ONE json value (RETURNING it from the write): a driver decodes each value of
 * each row on its own (PGlite copies and text-decodes every one), one json value is one decode and one JSON.parse.
 * Times go out as epoch milliseconds, never as `timestamp` values, which pg and PGlite read in the process' local
 * time zone.
 */
export function writtenRowSql(t: string): string {
  const columns = { ...columnSql(t), tenantId: `${t}."tenantId"` };
  return `json_build_object(${Object.entries(columns)
    .map(([name, sql]) => `'${name}', ${sql}`)
    .join(', ')})`;
}

const TIMES = [...TIME_COLUMNS];

/** The statement's json value as Prisma's row: epoch milliseconds become Dates (in place; the value is ours). */
export function decodeWrittenRow(value: Record<string, unknown>): WrittenRow {
  for (const column of TIMES) {
    const ms = value[column];
    value[column] = ms === null || ms === undefined ? null : new Date(ms as number);
  }
  return value as unknown as WrittenRow;
}

/** A statement's `row` value: drivers hand json over parsed (pg) or as its text (some paths through Prisma). */
export type RowJson = Record<string, unknown> | string;

/** The WrittenRow of a statement's `row` value (see writtenRowSql). */
export function rowFromJson(json: RowJson): WrittenRow {
  return decodeWrittenRow(typeof json === 'string' ? (JSON.parse(json) as Record<string, unknown>) : json);
}
