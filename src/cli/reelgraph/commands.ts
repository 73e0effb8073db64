import { resolve } from 'node:path';
import type { GenerateVideoInput, VideoGenerationStatus } from '../../client/gql/graphql.ts';
import { request, ServerError, UsageError, type Connection } from './api.ts';
import { integer, type CliIo, type Values } from './args.ts';
import { createDisplay, type Display, type DisplayMode } from './display.ts';
import { download } from './download.ts';
import { CliCancelMutation, CliGenerateMutation, CliListQuery, CliShowQuery } from './operations.ts';
import { follow, type Outcome } from './watch.ts';

/** One function per command; each resolves with the exit code (failures to reach the server are thrown). */

export async function generate(connection: Connection, values: Values, mode: DisplayMode, io: CliIo): Promise<number> {
  if (values.image && values['image-url']) throw new UsageError('give --image or --image-url, not both');
  if (!values.image && !values['image-url']) throw new UsageError('give the start frame: --image <file> or --image-url <url>');
  if (values['end-image'] && values['end-image-url']) throw new UsageError('give --end-image or --end-image-url, not both');
  if (values.prompt && values.shot) throw new UsageError('give --prompt or --shot, not both');
  if (!values.prompt && !values.shot) throw new UsageError('give --prompt <text> (or one --shot per shot)');
  const input: GenerateVideoInput = {
    prompt: values.prompt ?? null,
    multiPrompt: values.shot ? values.shot.map(parseShot) : null,
    imageUrl: values['image-url'] ?? null,
    endImageUrl: values['end-image-url'] ?? null,
    duration: integer(values.duration, 'duration') ?? 5,
    generateAudio: values.audio ?? false,
    idempotencyKey: values['idempotency-key'] ?? null,
  };
  const files = [
    ...(values.image ? [{ variablePath: 'input.image', filePath: values.image }] : []),
    ...(values['end-image'] ? [{ variablePath: 'input.endImage', filePath: values['end-image'] }] : []),
  ];
  for (const f of files) (input as Record<string, unknown>)[f.variablePath.slice('input.'.length)] = null;

  const { generateVideo: result } = await request(connection, CliGenerateMutation, { input }, files);
  if (result.__typename !== 'GenerateVideoSuccess') {
    const lines = result.__typename === 'InputValidationError' ? result.fieldErrors.map((e) => `  ${e.path.join('.')}: ${e.message}`) : [];
    const message = result.message;
    if (mode === 'json')
      io.stdout.write(
        `${JSON.stringify({ kind: 'rejected', type: result.__typename, message, ...('fieldErrors' in result ? { fieldErrors: result.fieldErrors } : {}) })}\n`,
      );
    io.stderr.write(
      lines.length > 0
        ? `reelgraph: the server rejected the input:\n${lines.map((l) => `${l}\n`).join('')}`
        : `reelgraph: the server rejected the request (${result.__typename}): ${message}\n`,
    );
    return 1;
  }
  const { generation } = result;
  const display = createDisplay(mode, io.stdout);
  try {
    display.event({ kind: 'created', id: generation.id, status: generation.status });
    if (values.detach) return 0;
    const outcome = await followWithHint(connection, generation.id, 0, display, values, io);
    // Default file name: the server's own name for the video (its URL's last segment), in the current directory.
    const out =
      values['no-download'] || outcome.status !== 'COMPLETED'
        ? null
        : resolve(values.out ?? defaultFileName(outcome.videoUrl, generation.id));
    return await finish(outcome, out, display, io);
  } finally {
    display.close();
  }
}

/** `--shot "3:The camera pans left"` (3 seconds) or `--shot "The camera pans left"` (the model decides). */
function parseShot(text: string): { prompt: string; duration: number | null } {
  const match = /^(\d+):(.*)$/s.exec(text);
  return match ? { prompt: match[2], duration: Number(match[1]) } : { prompt: text, duration: null };
}

function defaultFileName(videoUrl: string | null, id: string): string {
  const last = videoUrl ? decodeURIComponent(new URL(videoUrl).pathname.split('/').pop() ?? '') : '';
  return /^[\w.-]+\.\w+$/.test(last) ? last : `${id.replace(/[^\w-]/g, '')}.mp4`;
}

export async function watch(connection: Connection, id: string, values: Values, mode: DisplayMode, io: CliIo): Promise<number> {
  const display = createDisplay(mode, io.stdout);
  try {
    const outcome = await followWithHint(connection, id, integer(values.after, 'after') ?? 0, display, values, io);
    return await finish(outcome, values.out ? resolve(values.out) : null, display, io);
  } finally {
    display.close();
  }
}

async function followWithHint(
  connection: Connection,
  id: string,
  afterSequence: number,
  display: Display,
  values: Values,
  io: CliIo,
): Promise<Outcome> {
  try {
    return await follow({
      connection,
      id,
      afterSequence,
      display,
      signal: io.signal,
      reconnectTimeoutMs: (integer(values['reconnect-timeout'], 'reconnect-timeout') ?? 300) * 1000,
    });
  } catch (error) {
    if (io.signal?.aborted) {
      display.close();
      io.stderr.write(`\nreelgraph: stopped watching; generation ${id} carries on at the server. Resume with: reelgraph watch ${id}\n`);
    }
    throw error;
  }
}

async function finish(outcome: Outcome, out: string | null, display: Display, io: CliIo): Promise<number> {
  if (outcome.status !== 'COMPLETED') {
    const why = outcome.error ? `${outcome.error.code}: ${outcome.error.message}` : 'no reason given';
    io.stderr.write(`reelgraph: generation ${outcome.id} ${outcome.status === 'FAILED' ? 'failed' : 'was cancelled'} (${why})\n`);
    return 1;
  }
  if (out) {
    if (!outcome.videoUrl) throw new ServerError(`generation ${outcome.id} completed without a video URL`, false);
    const bytes = await download(outcome.videoUrl, out);
    display.event({ kind: 'downloaded', path: out, bytes });
  }
  return 0;
}

export async function show(connection: Connection, id: string, values: Values, io: CliIo): Promise<number> {
  const { videoGeneration: g } = await request(connection, CliShowQuery, { id });
  if (!g) throw new ServerError(`no video generation with id "${id}"`, false);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(g)}\n`);
    return 0;
  }
  const rows: Array<[string, unknown]> = [
    ['id', g.id],
    ['status', g.status + (g.queuePosition !== null && g.queuePosition !== undefined ? ` (queue position ${g.queuePosition})` : '')],
    ['prompt', g.prompt],
    ['duration', `${g.duration} s${g.generateAudio ? ', with audio' : ''}`],
    ['backend', g.backend],
    ['created', g.createdAt],
    ['started', g.startedAt],
    ['completed', g.completedAt],
    ['image', g.imageUrl],
    ['end image', g.endImageUrl],
    ['fal request', g.falRequestId],
    ['error', g.error ? `${g.error.code}: ${g.error.message}` : null],
    ['video', g.video ? `${g.video.url}${g.video.fileSize ? ` (${g.video.fileSize} bytes, ${g.video.archiveStatus})` : ''}` : null],
  ];
  for (const [name, value] of rows) if (value !== null && value !== undefined) io.stdout.write(`${name.padEnd(12)}${String(value)}\n`);
  return 0;
}

const STATUSES: VideoGenerationStatus[] = ['PENDING', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'];

export async function list(connection: Connection, values: Values, io: CliIo): Promise<number> {
  const status = (values.status ?? []).map((s) => s.toUpperCase()) as VideoGenerationStatus[];
  for (const s of status) if (!STATUSES.includes(s)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  const first = integer(values.first, 'first') ?? 20;
  const { videoGenerations } = await request(connection, CliListQuery, { first, filter: status.length > 0 ? { status } : null });
  const nodes = videoGenerations.edges.map((e) => e.node);
  if (values.json) {
    for (const node of nodes) io.stdout.write(`${JSON.stringify(node)}\n`);
    return 0;
  }
  if (nodes.length === 0) io.stdout.write('no generations\n');
  for (const n of nodes) {
    const prompt = (n.prompt ?? '(multi-shot)').replace(/\s+/g, ' ');
    io.stdout.write(
      `${n.id}  ${n.status.padEnd(11)}  ${n.createdAt}  ${String(n.duration).padStart(2)} s  ${prompt.length > 50 ? `${prompt.slice(0, 49)}…` : prompt}\n`,
    );
  }
  if (videoGenerations.pageInfo.hasNextPage) io.stdout.write(`(more: --first ${first * 2})\n`);
  return 0;
}

export async function cancel(connection: Connection, id: string, values: Values, io: CliIo): Promise<number> {
  const { cancelVideoGeneration: result } = await request(connection, CliCancelMutation, { id });
  if (result.__typename === 'CancelVideoGenerationSuccess') {
    const text = result.cancelRequested
      ? `cancel sent to fal for ${id}; it is ${result.generation.status} and ends however fal reports`
      : `generation ${id} is ${result.generation.status}`;
    io.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${text}\n`);
    return 0;
  }
  const message = result.message;
  if (values.json) io.stdout.write(`${JSON.stringify(result)}\n`);
  io.stderr.write(`reelgraph: cannot cancel ${id}: ${message}\n`);
  return 1;
}
