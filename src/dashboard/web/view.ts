import type { DashboardGenerationRowFragment as Row, VideoGenerationStatus } from '../../client/gql/graphql.ts';

/** DOM rendering for the generations table and the detail view; no GraphQL here, only rows in and elements out. */

export type { Row };

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
  const ms = Math.max(0, end - start);
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

/** Renders (or re-renders in place) one table row; the row element is keyed by data-id. */
export function renderRow(tr: HTMLTableRowElement, row: Row, handlers: { open: (id: string) => void; cancel: (id: string) => void }): void {
  tr.dataset.id = row.id;
  tr.dataset.status = row.status;
  tr.replaceChildren(
    el('td', { class: 'created' }, new Date(row.createdAt).toLocaleTimeString()),
    el('td', { class: 'prompt', title: promptText(row) }, promptText(row)),
    el('td', { class: 'status' }, row.status),
    el('td', { class: 'queue' }, queueText(row)),
    el('td', { class: 'elapsed' }, elapsed(row)),
    actions(row, handlers),
  );
}

function actions(row: Row, handlers: { open: (id: string) => void; cancel: (id: string) => void }): HTMLTableCellElement {
  const td = el('td', { class: 'actions' });
  const open = el('button', { type: 'button', class: 'open' }, 'Details');
  open.addEventListener('click', (event) => {
    event.stopPropagation();
    handlers.open(row.id);
  });
  td.append(open);
  if (!TERMINAL.has(row.status)) {
    const cancel = el('button', { type: 'button', class: 'cancel' }, 'Cancel');
    cancel.addEventListener('click', (event) => {
      event.stopPropagation();
      (event.currentTarget as HTMLButtonElement).disabled = true;
      handlers.cancel(row.id);
    });
    td.append(cancel);
  }
  return td;
}

/** The detail header and the player; the log is appended to separately, line by line. */
export function renderDetail(row: Row): void {
  byId('detail').hidden = false;
  byId('detail').dataset.id = row.id;
  byId('detail').dataset.status = row.status;
  byId('detail-id').textContent = row.id;
  byId('detail-status').textContent = row.status;
  byId('detail-queue').textContent = queueText(row) ? `(queue position ${queueText(row)})` : '';
  byId('detail-error').textContent = row.error ? `${row.error.code}: ${row.error.message}` : '';
  byId('detail-prompt').textContent = promptText(row);
  const player = byId('detail-player');
  const video = row.video;
  if (row.status !== 'COMPLETED' || !video) {
    player.replaceChildren();
    return;
  }
  // Until it is archived the stable URL redirects to fal's temporary copy on another origin, which the page's
  // Content-Security-Policy (media-src 'self') refuses; so the player appears once the archived copy exists.
  if (video.archiveStatus !== 'ARCHIVED') {
    player.replaceChildren(el('p', { class: 'muted' }, `Archiving the video (${video.archiveStatus.toLowerCase()})…`));
    return;
  }
  // Signed URLs may differ on every read (new expiry): keep a player already showing this video's path.
  const current = player.querySelector('video');
  if (current && new URL(current.src).pathname === new URL(video.url, location.href).pathname) return;
  const element = el('video', { controls: '', preload: 'metadata', src: video.url, playsinline: '' });
  player.replaceChildren(element, el('p', {}, ''));
  player.lastElementChild?.append(el('a', { href: video.url, download: '' }, 'Download'));
}

export function appendLog(line: { sequence: number; message: string; level: string; timestamp: string }): void {
  const li = el('li', { 'data-sequence': String(line.sequence), class: `level-${line.level.toLowerCase()}` });
  li.append(el('time', {}, new Date(line.timestamp).toLocaleTimeString()), document.createTextNode(` ${line.message}`));
  byId('detail-log').append(li);
}
