import type { GenerateVideoInput } from '../../client/gql/graphql.ts';
import { AuthError, createApi, type Api } from './api.ts';
import {
  DashboardCancelMutation,
  DashboardEventsSubscription,
  DashboardGenerateMutation,
  DashboardGenerationsQuery,
  DashboardUpdatesSubscription,
} from './operations.ts';
import { appendLog, byId, el, elapsed, renderDetail, renderRow, TERMINAL, type Row } from './view.ts';

/** The dashboard page: wires the form, the live table and the detail view to the API. */

const KEY_STORAGE = 'reelgraph.apiKey';
const LIST_SIZE = 50;

const rows = new Map<string, Row>();
let api: Api;
let stopUpdates: () => void = () => {};
let detail: { id: string; lastSequence: number; stop: () => void } | null = null;

function upsert(row: Row): void {
  const known = rows.get(row.id);
  // Updates can arrive out of order (a list read racing a live event): never go back in time.
  if (known && Date.parse(known.updatedAt) > Date.parse(row.updatedAt)) return;
  rows.set(row.id, { ...known, ...row });
  const merged = rows.get(row.id) as Row;
  const body = byId<HTMLTableSectionElement>('rows');
  let tr = body.querySelector<HTMLTableRowElement>(`tr[data-id="${CSS.escape(row.id)}"]`);
  if (!tr) {
    tr = el('tr');
    tr.addEventListener('click', () => openDetail((tr as HTMLTableRowElement).dataset.id as string));
    const newer = [...body.querySelectorAll<HTMLTableRowElement>('tr')].find((other) => {
      const o = rows.get(other.dataset.id as string);
      return o !== undefined && Date.parse(o.createdAt) < Date.parse(merged.createdAt);
    });
    body.insertBefore(tr, newer ?? null);
  }
  renderRow(tr, merged, { open: openDetail, cancel });
  byId('empty').hidden = rows.size > 0;
  if (detail?.id === row.id) renderDetail(merged);
}

async function loadList(): Promise<void> {
  const data = await api.request(DashboardGenerationsQuery, { first: LIST_SIZE });
  byId('simulator-banner').hidden = !data.serverInfo.simulated;
  document.body.dataset.backend = data.serverInfo.falBackend;
  for (const edge of [...data.videoGenerations.edges].reverse()) upsert(edge.node);
}

function openDetail(id: string): void {
  detail?.stop();
  byId('detail-log').replaceChildren();
  const row = rows.get(id);
  if (row) renderDetail(row);
  const state = { id, lastSequence: 0, stop: () => {} };
  detail = state;
  // Replays the whole event log, then follows live; graphql-ws resubscribes after a reconnect with the same
  // variables, so sequences already shown are skipped.
  state.stop = api.subscribe(
    DashboardEventsSubscription,
    { id },
    {
      next: ({ videoGenerationEvents: event }) => {
        if (event.sequence <= state.lastSequence) return;
        state.lastSequence = event.sequence;
        if ('log' in event && event.log) appendLog(event.log);
        upsert(event.generation);
        if (detail === state) renderDetail(rows.get(id) ?? event.generation);
      },
      error: (error) => showResult(`Following ${id} failed: ${message(error)}`, 'error'),
    },
  );
}

async function cancel(id: string): Promise<void> {
  try {
    const { cancelVideoGeneration: result } = await api.request(DashboardCancelMutation, { id });
    if (result.__typename === 'CancelVideoGenerationSuccess') {
      upsert(result.generation);
      showResult(result.cancelRequested ? `Cancel sent to fal for ${id}; it ends as fal reports.` : `Cancelled ${id}.`, 'ok');
    } else {
      showResult(`${result.__typename}: ${result.message}`, 'error');
    }
  } catch (error) {
    showResult(`Cancel failed: ${message(error)}`, 'error');
  }
}

function showResult(text: string, kind: 'ok' | 'error', details: string[] = []): void {
  const box = byId('submit-result');
  box.dataset.kind = kind;
  box.replaceChildren(el('p', {}, text));
  if (details.length > 0) {
    const list = el('ul');
    for (const d of details) list.append(el('li', {}, d));
    box.append(list);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function selected(name: string): string {
  return (document.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? '') as string;
}

function readInput(): GenerateVideoInput {
  const input: GenerateVideoInput = {
    duration: Number(byId<HTMLSelectElement>('duration').value),
    generateAudio: byId<HTMLInputElement>('audio').checked,
    idempotencyKey: crypto.randomUUID(),
  };
  const startFile = byId<HTMLInputElement>('start-file').files?.[0];
  if (selected('start-source') === 'file' && startFile) input.image = startFile;
  else input.imageUrl = byId<HTMLInputElement>('start-url').value.trim();
  const endFile = byId<HTMLInputElement>('end-file').files?.[0];
  const endUrl = byId<HTMLInputElement>('end-url').value.trim();
  if (selected('end-source') === 'file' && endFile) input.endImage = endFile;
  else if (selected('end-source') === 'url' && endUrl) input.endImageUrl = endUrl;
  if (selected('prompt-mode') === 'shots') {
    input.multiPrompt = [...document.querySelectorAll<HTMLLIElement>('#shot-list li')].map((li) => {
      const seconds = li.querySelector<HTMLInputElement>('input[type=number]')?.value ?? '';
      return {
        prompt: li.querySelector<HTMLInputElement>('input[type=text]')?.value ?? '',
        ...(seconds ? { duration: Number(seconds) } : {}),
      };
    });
  } else {
    input.prompt = byId<HTMLTextAreaElement>('prompt').value;
  }
  return input;
}

async function submit(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const button = byId<HTMLButtonElement>('generate');
  button.disabled = true;
  try {
    const input = readInput();
    const { generateVideo: result } = await api.request(DashboardGenerateMutation, { input });
    if (result.__typename === 'GenerateVideoSuccess') {
      upsert(result.generation);
      showResult(`Submitted ${result.generation.id}.`, 'ok');
      byId('submit-result').dataset.generationId = result.generation.id;
      openDetail(result.generation.id);
    } else if (result.__typename === 'InputValidationError') {
      showResult(
        result.message,
        'error',
        result.fieldErrors.map((f) => `${f.path.join('.')}: ${f.message}`),
      );
    } else {
      showResult(`${result.__typename}: ${result.message}`, 'error');
    }
  } catch (error) {
    if (!(error instanceof AuthError)) showResult(`Submit failed: ${message(error)}`, 'error');
  } finally {
    button.disabled = false;
  }
}

function addShot(): void {
  const li = el('li');
  li.append(
    el('input', { type: 'text', placeholder: 'Shot prompt', maxlength: '2500', 'aria-label': 'Shot prompt' }),
    el('input', { type: 'number', min: '1', max: '15', placeholder: 's', 'aria-label': 'Shot seconds' }),
  );
  const remove = el('button', { type: 'button' }, 'Remove');
  remove.addEventListener('click', () => li.remove());
  li.append(remove);
  byId('shot-list').append(li);
}

function syncSourceInputs(): void {
  for (const which of ['start', 'end']) {
    const file = selected(`${which}-source`) === 'file';
    byId(`${which}-url`).hidden = file;
    byId(`${which}-file`).hidden = !file;
  }
  const shots = selected('prompt-mode') === 'shots';
  byId('prompt').hidden = shots;
  byId('shots').hidden = !shots;
  if (shots && byId('shot-list').children.length === 0) addShot();
}

function connect(): void {
  stopUpdates();
  detail?.stop();
  api?.dispose();
  const apiKey = localStorage.getItem(KEY_STORAGE) || null;
  // Another key may be another tenant: show nothing from the previous one.
  rows.clear();
  byId('rows').replaceChildren();
  byId('empty').hidden = false;
  detail = null;
  byId('detail').hidden = true;
  byId('auth-banner').hidden = true;
  api = createApi({
    apiKey,
    onAuthProblem: (text) => {
      const banner = byId('auth-banner');
      banner.textContent = text;
      banner.hidden = false;
    },
    onConnection: (state) => {
      const pill = byId('connection');
      pill.dataset.state = state;
      pill.textContent = state === 'live' ? 'live' : state === 'rejected' ? 'API key rejected' : `${state}…`;
    },
    // Anything that changed while the socket was down is read again (the live feed has no replay).
    onConnected: () => void loadList().catch(() => undefined),
  });
  stopUpdates = api.subscribe(DashboardUpdatesSubscription, {}, { next: (data) => upsert(data.videoGenerationUpdated) });
  loadList().catch((error) => {
    if (!(error instanceof AuthError)) showResult(`Could not load generations: ${message(error)}`, 'error');
  });
}

function init(): void {
  const duration = byId<HTMLSelectElement>('duration');
  for (let s = 3; s <= 15; s++)
    duration.append(el('option', s === 5 ? { value: String(s), selected: '' } : { value: String(s) }, String(s)));
  byId<HTMLInputElement>('api-key').value = localStorage.getItem(KEY_STORAGE) ?? '';
  byId('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = byId<HTMLInputElement>('api-key').value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    connect();
  });
  byId('generate-form').addEventListener('submit', (event) => void submit(event as SubmitEvent));
  byId('generate-form').addEventListener('change', syncSourceInputs);
  byId('add-shot').addEventListener('click', addShot);
  byId('detail-close').addEventListener('click', () => {
    detail?.stop();
    detail = null;
    byId('detail').hidden = true;
  });
  // Elapsed time ticks for unfinished rows only.
  setInterval(() => {
    for (const tr of byId('rows').querySelectorAll<HTMLTableRowElement>('tr')) {
      const row = rows.get(tr.dataset.id as string);
      if (row && !TERMINAL.has(row.status)) (tr.querySelector('.elapsed') as HTMLElement).textContent = elapsed(row);
    }
  }, 500);
  syncSourceInputs();
  connect();
  document.body.dataset.ready = 'true';
}

init();
