import type { GenerateVideoInput, VideoGenerationFilter } from '../../client/gql/graphql.ts';
import { errorMessage } from '../../lib/errors.ts';
import { AuthError, createApi, type Api } from './api.ts';
import { clearAuthProblem, KEY_REQUIRED, showAuthProblem, showServerInfo } from './banner.ts';
import { appendLog, detailId, hideDetail, initDetail, renderDetail, showDetail, tickDetail } from './detail.ts';
import { againInput, initForm, showResult } from './form.ts';
import { initList, reload, refresh, rerender, rowOf, showEmptyState, showListError, tick, upsert } from './list.ts';
import {
  DashboardCancelMutation,
  DashboardEventsSubscription,
  DashboardGenerateMutation,
  DashboardGenerationsQuery,
  DashboardUpdatesSubscription,
} from './operations.ts';
import { byId, shortId, type Row } from './view.ts';

/** The dashboard page: wires the form, the list, the detail view and the banners to the API. */

const KEY_STORAGE = 'reelgraph.apiKey';
const PAGE_SIZE = 20;

let api: Api;
let stopUpdates: () => void = () => {};
let stopDetail: () => void = () => {};

function openDetail(id: string): void {
  stopDetail();
  showDetail(id);
  const row = rowOf(id);
  if (row) renderDetail(row);
  let lastSequence = 0;
  // Replays the whole event log, then follows live; graphql-ws resubscribes after a reconnect with the same
  // variables, so sequences already shown are skipped.
  stopDetail = api.subscribe(
    DashboardEventsSubscription,
    { id },
    {
      next: ({ videoGenerationEvents: event }) => {
        if (event.sequence <= lastSequence || detailId() !== id) return;
        lastSequence = event.sequence;
        if ('log' in event && event.log) appendLog(event.log);
        upsert(event.generation, { live: true });
        renderDetail(rowOf(id) ?? event.generation);
      },
      error: (error) => showResult(`Following ${shortId(id)} failed: ${errorMessage(error)}. Close and open it again to retry.`, 'error'),
    },
  );
}

async function cancel(id: string): Promise<void> {
  try {
    const { cancelVideoGeneration: result } = await api.request(DashboardCancelMutation, { id });
    if (result.__typename === 'CancelVideoGenerationSuccess') {
      upsert(result.generation);
      showResult(
        result.cancelRequested ? `Cancel sent to fal for ${shortId(id)}; it ends as fal reports.` : `Cancelled ${shortId(id)}.`,
        'ok',
      );
    } else {
      showResult(`${result.__typename}: ${result.message}`, 'error');
      rerender(id);
    }
  } catch (error) {
    showResult(`Cancel failed: ${errorMessage(error)}`, 'error');
    rerender(id);
  }
}

async function submit(input: GenerateVideoInput, what = 'Submitted'): Promise<string | null> {
  try {
    const { generateVideo: result } = await api.request(DashboardGenerateMutation, { input });
    if (result.__typename === 'GenerateVideoSuccess') {
      upsert(result.generation, { live: true });
      showResult(`${what} ${shortId(result.generation.id)}.`, 'ok');
      byId('submit-result').dataset.generationId = result.generation.id;
      openDetail(result.generation.id);
      return result.generation.id;
    }
    if (result.__typename === 'InputValidationError') {
      showResult(
        `${result.message} Fix the fields below and submit again.`,
        'error',
        result.fieldErrors.map((f) => `${f.path.join('.')}: ${f.message}`),
      );
    } else {
      showResult(`${result.__typename}: ${result.message}`, 'error');
    }
  } catch (error) {
    if (!(error instanceof AuthError)) showResult(`Submit failed: ${errorMessage(error)}. Check the connection and try again.`, 'error');
  }
  return null;
}

/** One click: the same input as a finished generation, as a new generation (through generateVideo). */
async function again(id: string): Promise<void> {
  const row = rowOf(id);
  if (row) await submit(againInput(row), `Generating ${shortId(id)} again as`);
  rerender(id);
}

async function loadPage(filter: VideoGenerationFilter, after: string | null) {
  const { videoGenerations: page } = await api.request(DashboardGenerationsQuery, { first: PAGE_SIZE, after, filter });
  return {
    rows: page.edges.map((edge): Row => edge.node),
    hasNextPage: page.pageInfo.hasNextPage,
    endCursor: page.pageInfo.endCursor ?? null,
  };
}

function listFailed(error: unknown): void {
  if (!(error instanceof AuthError)) showListError(errorMessage(error));
}

function connect(): void {
  stopUpdates();
  stopDetail();
  api?.dispose();
  const apiKey = localStorage.getItem(KEY_STORAGE) || null;
  // Another key may be another tenant: show nothing from the previous one.
  hideDetail();
  clearAuthProblem();
  void showServerInfo(apiKey !== null);
  api = createApi({
    apiKey,
    onAuthProblem: (text) => {
      showAuthProblem(apiKey ? text : KEY_REQUIRED);
      showEmptyState();
    },
    onConnection: (state) => {
      const pill = byId('connection');
      pill.dataset.state = state;
      const refused = apiKey ? 'API key rejected' : 'API key required';
      pill.textContent = state === 'live' ? 'live' : state === 'rejected' ? refused : `${state}…`;
    },
    // Anything that changed while the socket was down is read again (the live feed has no replay).
    onConnected: () => void refresh().catch(listFailed),
  });
  stopUpdates = api.subscribe(DashboardUpdatesSubscription, {}, { next: (data) => upsert(data.videoGenerationUpdated, { live: true }) });
  void reload().catch(listFailed);
}

function init(): void {
  byId<HTMLInputElement>('api-key').value = localStorage.getItem(KEY_STORAGE) ?? '';
  byId('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = byId<HTMLInputElement>('api-key').value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    connect();
  });
  initForm(async (input) => void (await submit(input)));
  initList({
    open: openDetail,
    cancel: (id) => void cancel(id),
    again: (id) => void again(id),
    load: loadPage,
    changed: (row) => renderDetail(row),
  });
  initDetail({
    close: () => {
      stopDetail();
      hideDetail();
    },
    again: (id) => void again(id),
  });
  // Elapsed time and ETA tick for unfinished generations only.
  setInterval(() => {
    tick();
    const id = detailId();
    if (id) tickDetail(rowOf(id));
  }, 500);
  connect();
  document.body.dataset.ready = 'true';
}

init();
