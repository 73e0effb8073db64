/** One line of the server's JSON log. */
export interface LogRecord {
  level: string;
  time: string;
  msg: string;
  requestId?: string;
  generationId?: string;
  falRequestId?: string;
  tenantId?: string;
  [field: string]: unknown;
}

/** Parses JSON log lines, failing with the offending line (a stray non-JSON line is a bug). */
export function parseLogLines(lines: string | string[]): LogRecord[] {
  const all = typeof lines === 'string' ? lines.split('\n') : lines.flatMap((l) => l.split('\n'));
  return all
    .filter((line) => line.trim() !== '')
    .map((line) => {
      let record: LogRecord;
      try {
        record = JSON.parse(line) as LogRecord;
      } catch {
        throw new Error(`not a JSON log line: ${line}`);
      }
      if (
        typeof record !== 'object' ||
        record === null ||
        typeof record.level !== 'string' ||
        typeof record.time !== 'string' ||
        typeof record.msg !== 'string'
      ) {
        throw new Error(`log line without level, time and msg: ${line}`);
      }
      return record;
    });
}

/** The access-log line of a request, by its id. */
export const isAccessLine = (requestId: string) => (r: LogRecord) =>
  r.requestId === requestId && typeof r.status === 'number' && typeof r.method === 'string';
