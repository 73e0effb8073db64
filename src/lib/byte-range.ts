/**
 * HTTP byte ranges (RFC 9110 §14), for serving videos a browser <video> element can seek in.
 * Only single ranges are served; a request for several is answered with the whole file, which the RFC allows.
 */
export type RangeResult =
  { kind: 'full' } | { kind: 'malformed' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * `strict` reports a syntactically malformed header as such (our archive answers it with a clear 416);
 * otherwise it is ignored and the whole file served, which RFC 9110 §14.2 allows (the simulator, like a
 * CDN, does that). A valid multi-range request is always answered with the whole file.
 */
export function parseRange(header: string | null | undefined, size: number, options: { strict?: boolean } = {}): RangeResult {
  if (!header) return { kind: 'full' };
  const value = header.trim();
  if (/^bytes=\s*\d*\s*-\s*\d*\s*(,\s*\d*\s*-\s*\d*\s*)+$/.test(value)) return { kind: 'full' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(value);
  if (!match || (match[1] === '' && match[2] === '')) return options.strict ? { kind: 'malformed' } : { kind: 'full' };
  let start: number;
  let end: number;
  if (match[1] === '') {
    // Suffix range: the last N bytes.
    const suffix = Number(match[2]);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== '' && Number(match[2]) < start) return options.strict ? { kind: 'malformed' } : { kind: 'full' };
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start >= size || size === 0) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}
