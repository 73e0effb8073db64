import { byId, el, etaText, idWithCopy, progressBar, promptText, queueText, TERMINAL, thumbnail, type Row } from './view.ts';

/** The detail view of one generation: header, start frame, progress, player, log, and "generate again". */

let shownId: string | null = null;

export function detailId(): string | null {
  return shownId;
}

export function initDetail(handlers: { close: () => void; again: (id: string) => void }): void {
  byId('detail-close').addEventListener('click', handlers.close);
  byId('detail-again').addEventListener('click', () => {
    if (shownId) handlers.again(shownId);
  });
}

/** Opens the view empty for `id` (its log is appended as it streams in). */
export function showDetail(id: string): void {
  shownId = id;
  byId('detail-log').replaceChildren();
  byId('detail-thumb').replaceChildren();
  byId('detail-player').replaceChildren();
  byId('detail').hidden = false;
}

export function hideDetail(): void {
  shownId = null;
  byId('detail').hidden = true;
}

export function renderDetail(row: Row): void {
  if (row.id !== shownId) return;
  const detail = byId('detail');
  detail.dataset.id = row.id;
  detail.dataset.status = row.status;
  byId('detail-id').replaceChildren(idWithCopy(row.id));
  byId<HTMLInputElement>('detail-full-id').value = row.id;
  byId('detail-status').textContent = row.status;
  byId('detail-queue').textContent = queueText(row) ? `(queue position ${queueText(row)})` : '';
  byId('detail-error').textContent = row.error ? `${row.error.code}: ${row.error.message}` : '';
  byId('detail-prompt').textContent = promptText(row);
  const bar = progressBar(row);
  byId('detail-progress').replaceChildren(...(bar ? [bar] : []));
  byId('detail-again').hidden = !TERMINAL.has(row.status);
  const frames = byId('detail-thumb');
  if (frames.dataset.src !== row.imageUrl) {
    frames.dataset.src = row.imageUrl;
    frames.replaceChildren(thumbnail(row.imageUrl, 'detail-img'));
    if (row.endImageUrl) frames.append(thumbnail(row.endImageUrl, 'detail-img'));
  }
  renderPlayer(row);
}

/** Ticks the ETA of the shown generation, if it is still running. */
export function tickDetail(row: Row | undefined): void {
  if (!row || row.id !== shownId || TERMINAL.has(row.status)) return;
  const eta = byId('detail-progress').querySelector('.eta');
  if (eta) eta.textContent = etaText(row);
}

function renderPlayer(row: Row): void {
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
