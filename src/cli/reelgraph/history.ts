import type { VideoGenerationFilter, VideoGenerationStatus } from '../../client/gql/graphql.ts';
import { request, ServerError, UsageError, type Connection } from './api.ts';
import { integer, since, type CliIo, type Values } from './args.ts';
import { duration } from './display.ts';
import { CliListQuery, CliShowQuery } from './operations.ts';

/** The read-only commands: `show <id>` and `list`. */

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** "40%, ETA 12 s" for an active generation the server can estimate; null otherwise. */
function progressText(status: string, progress: { fraction?: number | null; etaSeconds?: number | null }): string | null {
  if (TERMINAL.has(status) || progress.fraction === null || progress.fraction === undefined) return null;
  return `${Math.floor(progress.fraction * 100)}%${progress.etaSeconds !== null && progress.etaSeconds !== undefined ? `, ETA ${duration(progress.etaSeconds)}` : ''}`;
}

export async function show(connection: Connection, id: string, values: Values, io: CliIo): Promise<number> {
  const { videoGeneration: g } = await request(connection, CliShowQuery, { id });
  if (!g) throw new ServerError(`no video generation with id "${id}"`, false);
  if (values.json) {
    io.stdout.write(`${JSON.stringify(g)}\n`);
    return 0;
  }
  const rows: Array<[string, string | number | null | undefined]> = [
    ['id', g.id],
    ['status', g.status + (g.queuePosition !== null && g.queuePosition !== undefined ? ` (queue position ${g.queuePosition})` : '')],
    ['progress', progressText(g.status, g.progress)],
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

/** The filter from --search, --status and --since; null when none was given. */
export function listFilter(values: Values, now = Date.now()): VideoGenerationFilter | null {
  const status = (values.status ?? []).map((s) => s.toUpperCase()) as VideoGenerationStatus[];
  for (const s of status) if (!STATUSES.includes(s)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  if (values.search !== undefined && values.search.trim() === '') throw new UsageError('--search needs at least one word');
  const after = since(values.since, now);
  const filter: VideoGenerationFilter = {
    ...(status.length > 0 ? { status } : {}),
    ...(values.search !== undefined ? { search: values.search } : {}),
    ...(after ? { createdAfter: after.toISOString() } : {}),
  };
  return Object.keys(filter).length > 0 ? filter : null;
}

export async function list(connection: Connection, values: Values, io: CliIo): Promise<number> {
  const filter = listFilter(values);
  const first = integer(values.first, 'first') ?? 20;
  const { videoGenerations } = await request(connection, CliListQuery, { first, filter });
  const nodes = videoGenerations.edges.map((e) => e.node);
  if (values.json) {
    for (const node of nodes) io.stdout.write(`${JSON.stringify(node)}\n`);
    return 0;
  }
  if (nodes.length === 0) io.stdout.write(filter ? 'no generations match\n' : 'no generations\n');
  for (const n of nodes) {
    const prompt = (n.prompt ?? '(multi-shot)').replace(/\s+/g, ' ');
    const progress = progressText(n.status, n.progress);
    io.stdout.write(
      `${n.id}  ${n.status.padEnd(11)}  ${n.createdAt}  ${String(n.duration).padStart(2)} s  ${prompt.length > 50 ? `${prompt.slice(0, 49)}…` : prompt}${progress ? `  (${progress})` : ''}\n`,
    );
  }
  if (videoGenerations.pageInfo.hasNextPage) io.stdout.write(`(more: --first ${first * 2})\n`);
  return 0;
}
