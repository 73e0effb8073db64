import type { VideoGenerationFilter, VideoGenerationStatus } from '../../client/gql/graphql.ts';
import { errorMessage } from '../../lib/errors.ts';
import { byId, el, elapsed, idWithCopy, progressBar, promptText, queueText, TERMINAL, thumbnail, type Row } from './view.ts';

/**
 * The generations list: rows keyed by id, a status filter and a search box over the connection, "load more"
 * through pageInfo, and the empty and error states. Live updates change rows in place; a row the current filter
 * or search would not have listed is not added (the server decides what a search matches).
 */

export interface ListHandlers {
  open: (id: string) => void;
  cancel: (id: string) => void;
  again: (id: string) => void;
  /** Reads one page (after the cursor, or the first) with the current filter. */
  load: (filter: VideoGenerationFilter, after: string | null) => Promise<{ rows: Row[]; hasNextPage: boolean; endCursor: string | null }>;
  /** Told of every row that changed, so the detail view can follow. */
  changed: (row: Row) => void;
}

const STATUS_GROUPS: Record<string, VideoGenerationStatus[]> = {
  active: ['IN_QUEUE', 'IN_PROGRESS'],
  finished: ['COMPLETED', 'FAILED', 'CANCELLED'],
};

const rows = new Map<string, Row>();
let handlers: ListHandlers;
let cursor: string | null = null;
// Bumped on every reload, so a page that arrives after the filter changed is dropped.
let generation = 0;

export function rowOf(id: string): Row | undefined {
  return rows.get(id);
}

/** The filter the controls describe now. */
export function currentFilter(): VideoGenerationFilter {
  const filter: VideoGenerationFilter = {};
  const status = byId<HTMLSelectElement>('status-filter').value;
  if (status) filter.status = STATUS_GROUPS[status] ?? [status as VideoGenerationStatus];
  const search = byId<HTMLInputElement>('search').value.trim();
  if (search) filter.search = search;
  return filter;
}

function filtered(): boolean {
  const filter = currentFilter();
  return Boolean(filter.status || filter.search);
}

function matches(row: Row): boolean {
  const filter = currentFilter();
  return !filter.search && (!filter.status || filter.status.includes(row.status));
}

/** Adds or updates one row. `live` rows (from the updates feed or a submit) are added only if the filter would list them. */
export function upsert(row: Row, options: { live?: boolean } = {}): void {
  const known = rows.get(row.id);
  if (!known && options.live && filtered() && !matches(row)) return;
  // Updates can arrive out of order (a list read racing a live event): never go back in time.
  if (known && Date.parse(known.updatedAt) > Date.parse(row.updatedAt)) return;
  const merged: Row = { ...known, ...row };
  rows.set(row.id, merged);
  const body = byId<HTMLTableSectionElement>('rows');
  let tr = body.querySelector<HTMLTableRowElement>(`tr[data-id="${CSS.escape(row.id)}"]`);
  if (!tr) {
    const created = el('tr');
    created.addEventListener('click', () => handlers.open(created.dataset.id ?? ''));
    const newer = [...body.querySelectorAll<HTMLTableRowElement>('tr')].find((other) => {
      const o = rows.get(other.dataset.id ?? '');
      return o !== undefined && Date.parse(o.createdAt) < Date.parse(merged.createdAt);
    });
    body.insertBefore(created, newer ?? null);
    tr = created;
  }
  renderRow(tr, merged);
  showEmptyState();
  handlers.changed(merged);
}

function renderRow(tr: HTMLTableRowElement, row: Row): void {
  tr.dataset.id = row.id;
  tr.dataset.status = row.status;
  const status = el('td', { class: 'status' });
  status.append(el('span', { class: 'status-text' }, row.status));
  const bar = progressBar(row);
  if (bar) status.append(bar);
  const thumb = el('td', { class: 'thumb' });
  // Re-rendering keeps a loaded image instead of fetching it again.
  const previous = tr.querySelector('td.thumb > *');
  thumb.append(previous && previous.getAttribute('data-src') === row.imageUrl ? previous : thumbWithSource(row.imageUrl));
  const id = el('td', { class: 'id-cell' });
  id.append(idWithCopy(row.id));
  tr.replaceChildren(
    thumb,
    el('td', { class: 'prompt', title: promptText(row) }, promptText(row)),
    id,
    el('td', { class: 'created', title: new Date(row.createdAt).toLocaleString() }, createdText(row.createdAt)),
    status,
    el('td', { class: 'queue', title: 'Queue position' }, queueText(row)),
    el('td', { class: 'elapsed' }, elapsed(row)),
    actions(row),
  );
}

/** The time for today's generations, the date for older ones (the full instant is the cell's title). */
function createdText(createdAt: string): string {
  const date = new Date(createdAt);
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
    : date.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

function thumbWithSource(url: string): HTMLElement {
  const element = thumbnail(url, 'thumb-img');
  element.dataset.src = url;
  return element;
}

function actions(row: Row): HTMLTableCellElement {
  const td = el('td', { class: 'actions' });
  // Cancel and generate-again are one-shot (the row re-renders with the outcome); Details only opens the view.
  const button = (className: string, text: string, run: (id: string) => void, oneShot: boolean) => {
    const b = el('button', { type: 'button', class: className }, text);
    b.addEventListener('click', (event) => {
      event.stopPropagation();
      if (oneShot) b.disabled = true;
      run(row.id);
    });
    td.append(b);
  };
  button('open', 'Details', (id) => handlers.open(id), false);
  if (TERMINAL.has(row.status)) button('again', 'Generate again', (id) => handlers.again(id), true);
  else button('cancel', 'Cancel', (id) => handlers.cancel(id), true);
  return td;
}

/** The empty list says why it is empty and what to do (enter a key, clear the filter, or submit one). */
export function showEmptyState(): void {
  const empty = byId('empty');
  empty.hidden = rows.size > 0 || !byId('list-error').hidden;
  empty.textContent = document.body.dataset.authProblem
    ? 'Enter an API key above to see your generations.'
    : filtered()
      ? 'No generations match this filter. Clear the search or choose "All" to see every generation.'
      : 'No generations yet. Submit one with the form: a start-frame URL or file and a prompt.';
}

/** Shows why the list could not be read, and what to do; `retry` reloads. */
export function showListError(message: string): void {
  const box = byId('list-error');
  box.hidden = false;
  byId('list-error-text').textContent = `Could not load generations: ${message}. Check that the server is running, then retry.`;
  showEmptyState();
}

/** Forgets every row (another key, another filter) and reads the first page again. */
export async function reload(): Promise<void> {
  generation += 1;
  rows.clear();
  cursor = null;
  byId('rows').replaceChildren();
  byId('load-more').hidden = true;
  await loadPage();
}

/** Reads the next page (or the first) and appends it. */
export async function loadPage(): Promise<void> {
  const mine = generation;
  const button = byId<HTMLButtonElement>('load-more');
  button.disabled = true;
  byId('list').dataset.loading = 'true';
  try {
    const page = await handlers.load(currentFilter(), cursor);
    if (mine !== generation) return;
    byId('list-error').hidden = true;
    for (const row of page.rows) upsert(row);
    cursor = page.endCursor;
    button.hidden = !page.hasNextPage;
    showEmptyState();
  } finally {
    button.disabled = false;
    if (mine === generation) delete byId('list').dataset.loading;
  }
}

/** Re-reads the rows already shown (after a reconnect: the live feed has no replay) without losing the pages. */
export async function refresh(): Promise<void> {
  const mine = generation;
  const page = await handlers.load(currentFilter(), null);
  if (mine === generation) for (const row of page.rows) upsert(row);
}

/** Elapsed time and ETA tick for unfinished rows only. */
export function tick(): void {
  for (const tr of byId('rows').querySelectorAll<HTMLTableRowElement>('tr')) {
    const row = rows.get(tr.dataset.id ?? '');
    if (!row || TERMINAL.has(row.status)) continue;
    const cell = tr.querySelector('.elapsed');
    if (cell) cell.textContent = elapsed(row);
  }
}

export function initList(given: ListHandlers): void {
  handlers = given;
  let typing: ReturnType<typeof setTimeout> | undefined;
  const again = () => void reload().catch((error: unknown) => showListError(errorMessage(error)));
  byId('status-filter').addEventListener('change', again);
  byId('filter-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearTimeout(typing);
    again();
  });
  // Searching as one types, once typing pauses (a search is a database query).
  byId('search').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(again, 300);
  });
  byId('load-more').addEventListener('click', () => void loadPage().catch((error: unknown) => showListError(errorMessage(error))));
  byId('list-retry').addEventListener('click', again);
}

/** Draws a row again as it is (e.g. to re-enable its buttons after an action that changed nothing). */
export function rerender(id: string): void {
  const row = rows.get(id);
  const tr = byId('rows').querySelector<HTMLTableRowElement>(`tr[data-id="${CSS.escape(id)}"]`);
  if (row && tr) renderRow(tr, row);
}
