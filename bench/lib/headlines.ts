/**
 * The issue's headline figures, computed the same way from any run's metric files (bench/run.ts, bench/quick.ts):
 * each is reelgraph's value, the peer it is compared with in the same run (or a fixed target), their ratio and the
 * target. Ratios move between runs, so bench/run.ts repeats the metrics these come from and reports the median of
 * the runs with their range (`medians`).
 */
import { round } from './util.ts';

export type Row = Record<string, unknown>;
/** One metric's file: its rows (m6 keeps them under `results`). */
export type MetricFile = { rows?: Row[] | number; results?: Row[]; max?: Row | null } | null;
export type Results = Record<string, MetricFile>;

export interface Headline {
  /** Stable key, e.g. `m1.1x5000.rawWs`. */
  key: string;
  label: string;
  value?: number;
  peer: string;
  peerValue?: number;
  /** value / peerValue. */
  ratio?: number;
  /** The target on the ratio: `<=` or `>=` a bound. */
  target: { op: '<=' | '>=' | '<'; bound: number };
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const rowsOf = (file: MetricFile): Row[] => (Array.isArray(file?.rows) ? file.rows : Array.isArray(file?.results) ? file.results : []);
const p99 = (row: Row | undefined, field = 'latencyMs') => num((row?.[field] as { p99?: number } | undefined)?.p99);

export function headlines(results: Results): Headline[] {
  const out: Headline[] = [];
  const add = (h: Omit<Headline, 'ratio'>) => {
    if (h.value === undefined || h.peerValue === undefined) return;
    out.push({ ...h, ratio: h.value !== undefined && h.peerValue ? round(h.value / h.peerValue, 2) : undefined });
  };

  const m1 = rowsOf(results.m1);
  const m1Row = (scenario: string, target: string) => m1.find((r) => r.scenario === scenario && r.target === target && !r.failed);
  for (const scenario of ['1x5000', '1000x10']) {
    const own = p99(m1Row(scenario, 'reelgraph'));
    if (scenario === '1x5000')
      add({
        key: 'm1.1x5000.rawWs',
        label: 'M1 1x5000 p99 ms',
        value: own,
        peer: 'raw-ws',
        peerValue: p99(m1Row(scenario, 'raw-ws')),
        target: { op: '<=', bound: 1.3 },
      });
    add({
      key: `m1.${scenario}.mercurius`,
      label: `M1 ${scenario} p99 ms`,
      value: own,
      peer: 'mercurius',
      peerValue: p99(m1Row(scenario, 'mercurius')),
      target: { op: '<=', bound: scenario === '1000x10' ? 0.7 : 1 },
    });
  }
  add({
    key: 'm1.connect5000',
    label: 'M1 connect 5,000 ms',
    value: num(m1Row('1x5000', 'reelgraph')?.connectMs),
    peer: 'mercurius',
    peerValue: num(m1Row('1x5000', 'mercurius')?.connectMs),
    target: { op: '<=', bound: 1.5 },
  });

  const m4 = rowsOf(results.m4);
  const m4Rate = (target: string) => num(m4.find((r) => r.target === target)?.perSecond);
  add({
    key: 'm4.pglite',
    label: 'M4 PGlite mutations/s',
    value: m4Rate('reelgraph'),
    peer: 'raw-driver',
    peerValue: m4Rate('raw-driver'),
    target: { op: '>=', bound: 0.6 },
  });
  add({
    key: 'm4.postgres',
    label: 'M4 PG mutations/s',
    value: m4Rate('reelgraph-pg'),
    peer: 'raw-driver-pg',
    peerValue: m4Rate('raw-driver-pg'),
    target: { op: '>=', bound: 0.6 },
  });

  const m5 = rowsOf(results.m5);
  for (const [target, name, floor] of [
    ['reelgraph-pg', 'PG', 10_000],
    ['reelgraph', 'PGlite', 3_000],
  ] as const) {
    for (const row of m5.filter((r) => r.target === target && !r.failed)) {
      const tag = `${String(row.streams)}x${String(row.subscribers)}`;
      add({
        key: `m5.${name.toLowerCase()}.${tag}`,
        label: `M5 ${name} ${String(row.streams)} streams, ${String(row.subscribers)} subs, events/s`,
        value: num(row.ingestedEventsPerSecond),
        peer: `target ${floor}/s`,
        peerValue: floor,
        target: { op: '>=', bound: 1 },
      });
      add({
        key: `m5.${name.toLowerCase()}.${tag}.p99`,
        label: `M5 ${name} ${String(row.streams)}x${String(row.subscribers)} p99 ms`,
        value: p99(row, 'windowLatencyMs'),
        peer: 'target 1,000 ms',
        peerValue: 1000,
        target: { op: '<', bound: 1 },
      });
    }
  }

  const m6 = rowsOf(results.m6);
  const m6Rate = (target: string, page?: number) =>
    num(m6.find((r) => r.target === target && (page === undefined || (num(r.fromPage) ?? 1) === page))?.requestsPerSecond);
  add({
    key: 'm6.postgres',
    label: 'M6 PG history req/s',
    value: m6Rate('reelgraph-pg'),
    peer: 'memory-history',
    peerValue: m6Rate('memory-history'),
    target: { op: '>=', bound: 0.6 },
  });
  add({
    key: 'm6.pglite',
    label: 'M6 PGlite history req/s',
    value: m6Rate('reelgraph'),
    peer: 'memory-history',
    peerValue: m6Rate('memory-history'),
    target: { op: '>=', bound: 0.6 },
  });

  const m7 = rowsOf(results.m7);
  const m7Rate = (target: string) => num(m7.find((r) => r.target === target)?.cyclesPerSecond);
  add({
    key: 'm7',
    label: 'M7 cycles/s',
    value: m7Rate('reelgraph'),
    peer: 'mercurius',
    peerValue: m7Rate('mercurius'),
    target: { op: '>=', bound: 1 },
  });
  return out;
}

/** True when the ratio meets its target (undefined without a ratio). */
export function met(h: Pick<Headline, 'ratio' | 'target'>): boolean | undefined {
  if (h.ratio === undefined) return undefined;
  if (h.target.op === '<=') return h.ratio <= h.target.bound;
  if (h.target.op === '<') return h.ratio < h.target.bound;
  return h.ratio >= h.target.bound;
}

export interface HeadlineMedian {
  key: string;
  label: string;
  peer: string;
  target: string;
  runs: number;
  /** Each run's ratio, in run order. */
  ratios: Array<number | null>;
  median?: number;
  range?: [number, number];
  /** Each run's value and the peer's. */
  values: Array<number | null>;
  peerValues: Array<number | null>;
  met?: boolean;
}

/** The median (and range) of each headline's ratio over several runs; a run that lacks it counts as missing. */
export function medians(runs: Headline[][]): HeadlineMedian[] {
  const keys = [...new Set(runs.flatMap((run) => run.map((h) => h.key)))];
  return keys.map((key) => {
    const found = runs.map((run) => run.find((h) => h.key === key));
    const first = found.find((h) => h !== undefined)!;
    const ratios = found.map((h) => h?.ratio ?? null);
    const present = ratios.filter((r): r is number => r !== null).sort((a, b) => a - b);
    const median = present.length === 0 ? undefined : present[Math.floor((present.length - 1) / 2)];
    const row: HeadlineMedian = {
      key,
      label: first.label,
      peer: first.peer,
      target: `${first.target.op} ${first.target.bound}x`,
      runs: present.length,
      ratios,
      median,
      range: present.length > 0 ? [present[0], present[present.length - 1]] : undefined,
      values: found.map((h) => h?.value ?? null),
      peerValues: found.map((h) => h?.peerValue ?? null),
    };
    row.met = median === undefined ? undefined : met({ ratio: median, target: first.target });
    return row;
  });
}

/** A fixed-width table of headlines (one run) for the console. */
export function formatHeadlines(rows: Headline[]): string {
  const cell = (v: string | number | undefined, w: number) => String(v ?? '-').padEnd(w);
  const lines = ['metric                                        reelgraph    peer               peer value   ratio   target'];
  for (const r of rows) {
    const verdict = met(r) === undefined ? '' : met(r) ? ' met' : ' not met';
    lines.push(
      `${cell(r.label, 46)}${cell(r.value, 13)}${cell(r.peer, 19)}${cell(r.peerValue, 13)}${cell(r.ratio !== undefined ? `${r.ratio}x` : '-', 8)}${r.target.op} ${r.target.bound}x${verdict}`,
    );
  }
  return lines.join('\n');
}

/** A fixed-width table of medians over runs. */
export function formatMedians(rows: HeadlineMedian[]): string {
  const cell = (v: string | number | undefined, w: number) => String(v ?? '-').padEnd(w);
  const lines = ['metric                                        median  range          runs  ratios                 target'];
  for (const r of rows) {
    const verdict = r.met === undefined ? '' : r.met ? ' met' : ' not met';
    lines.push(
      `${cell(r.label, 46)}${cell(r.median !== undefined ? `${r.median}x` : '-', 8)}${cell(r.range ? `${r.range[0]}-${r.range[1]}x` : '-', 15)}${cell(r.runs, 6)}${cell(r.ratios.map((x) => x ?? '-').join(' / '), 23)}${r.target}${verdict}`,
    );
  }
  return lines.join('\n');
}
