import type { DashboardGenerationRowFragment, VideoGenerationStatus } from '../../client/gql/graphql.ts';
import { copyText } from './clipboard.ts';

/** Small DOM helpers and the pieces the list and the detail view both show; no GraphQL here, rows in, elements out. */

export type Row = DashboardGenerationRowFragment;

export const TERMINAL: ReadonlySet<VideoGenerationStatus> = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) if (value !== undefined) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Time from creation to the end (finished rows) or to now: "4.2 s" under a minute, "m:ss" after. */
export function elapsed(row: Row, now = Date.now()): string {
  const start = Date.parse(row.createdAt);
  const end = TERMINAL.has(row.status) ? Date.parse(row.completedAt ?? row.updatedAt) : now;
  return duration(Math.max(0, end - start));
}

function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export function promptText(row: Row): string {
  if (row.prompt) return row.prompt;
  return (row.multiPrompt ?? []).map((shot, i) => `${i + 1}. ${shot.prompt}${shot.duration ? ` (${shot.duration}s)` : ''}`).join(' ');
}

export function queueText(row: Row): string {
  return row.status === 'IN_QUEUE' && row.queuePosition !== null ? String(row.queuePosition) : '';
}

/**
 * What people read and say: 8 hex digits of the generation's UUID. The API's ids are Relay global ids (base64 of
 * "VideoGeneration:<uuid>", 72 characters); the full id stays one click away (idWithCopy). The last 8, not the
 * first: our UUIDs are time-ordered (v7), so generations made in the same minute share their first 8 digits.
 */
export function shortId(id: string): string {
  try {
    const decoded = atob(id);
    const uuid = decoded.slice(decoded.indexOf(':') + 1);
    if (decoded.startsWith('VideoGeneration:') && /^[0-9a-f-]{36}$/i.test(uuid)) return uuid.slice(-8);
  } catch {
    // Not base64: a raw id, shortened as it is.
  }
  return id.slice(-8);
}

/** The short id, with a button that copies the full one. */
export function idWithCopy(id: string): HTMLSpanElement {
  const span = el('span', { class: 'id' });
  const copy = el(
    'button',
    { type: 'button', class: 'copy-id', title: `Copy the full id ${id}`, 'aria-label': 'Copy the full id' },
    'Copy',
  );
  copy.addEventListener('click', (event) => {
    event.stopPropagation();
    void copyText(id).then((how) => {
      copy.textContent = how === 'clipboard' ? 'Copied' : 'Copy';
      copy.dataset.copied = how;
    });
  });
  span.append(el('code', { class: 'short-id', title: id }, shortId(id)), copy);
  return span;
}

/**
 * The start frame as a thumbnail. It may be a data: URL, a fal storage URL (an uploaded file) or any https URL the
 * user gave (the page's img-src allows those); one that does not load becomes a labelled placeholder.
 */
export function thumbnail(url: string, className: string): HTMLElement {
  const img = el('img', {
    class: className,
    src: url,
    alt: 'Start frame',
    loading: 'lazy',
    decoding: 'async',
    referrerpolicy: 'no-referrer',
  });
  img.addEventListener('error', () => {
    const missing = el('span', { class: `${className} missing`, title: url }, 'no preview');
    img.replaceWith(missing);
  });
  return img;
}

/** A progress bar with its ETA while the generation is unfinished (the server's estimate; see GenerationProgress). */
export function progressBar(row: Row, now = Date.now()): HTMLElement | null {
  if (TERMINAL.has(row.status)) return null;
  const wrap = el('span', { class: 'progress-wrap' });
  // No fraction yet (too few finished generations like this one to estimate from): an indeterminate bar.
  const fraction = row.progress.fraction;
  const bar = el('progress', { class: 'progress', max: '1', 'aria-label': 'Progress' });
  if (fraction !== null) bar.value = fraction;
  wrap.append(bar, el('span', { class: 'eta' }, etaText(row, now)));
  return wrap;
}

export function etaText(row: Row, now = Date.now()): string {
  const progress = row.progress;
  const at = progress.estimatedCompletionAt ? Date.parse(progress.estimatedCompletionAt) : null;
  const seconds = at !== null ? Math.max(0, (at - now) / 1000) : progress.etaSeconds;
  if (seconds === null) return 'no ETA yet';
  return `ETA ${duration(Math.round(seconds) * 1000).replace('.0 s', ' s')}`;
}
