import type { GenerateVideoInput } from '../../client/gql/graphql.ts';
import { byId, el, type Row } from './view.ts';

/** The "new generation" form: what it submits, the shot list, and the result box under it. */

export function showResult(text: string, kind: 'ok' | 'error', details: string[] = []): void {
  const box = byId('submit-result');
  box.dataset.kind = kind;
  box.replaceChildren(el('p', {}, text));
  if (details.length > 0) {
    const list = el('ul');
    for (const d of details) list.append(el('li', {}, d));
    box.append(list);
  }
}

function selected(name: string): string {
  return document.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value ?? '';
}

export function readInput(): GenerateVideoInput {
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

/**
 * The input that made `row`, to submit it again. Uploaded frames are already URLs by then (fal storage), so the
 * same frames are used without uploading anything; a fresh idempotency key makes it a new generation.
 */
export function againInput(row: Row): GenerateVideoInput {
  return {
    imageUrl: row.imageUrl,
    ...(row.endImageUrl ? { endImageUrl: row.endImageUrl } : {}),
    ...(row.multiPrompt?.length
      ? { multiPrompt: row.multiPrompt.map((shot) => ({ prompt: shot.prompt, ...(shot.duration ? { duration: shot.duration } : {}) })) }
      : { prompt: row.prompt ?? '' }),
    duration: row.duration,
    generateAudio: row.generateAudio,
    shotType: row.shotType,
    idempotencyKey: crypto.randomUUID(),
  };
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

export function initForm(submit: (input: GenerateVideoInput) => Promise<void>): void {
  const duration = byId<HTMLSelectElement>('duration');
  for (let s = 3; s <= 15; s++)
    duration.append(el('option', s === 5 ? { value: String(s), selected: '' } : { value: String(s) }, String(s)));
  byId('generate-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const button = byId<HTMLButtonElement>('generate');
    button.disabled = true;
    void submit(readInput()).finally(() => (button.disabled = false));
  });
  byId('generate-form').addEventListener('change', syncSourceInputs);
  byId('add-shot').addEventListener('click', addShot);
  syncSourceInputs();
}
