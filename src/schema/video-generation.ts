import { GraphQLError } from 'graphql';
import { microsToUsd } from '../billing/prices.ts';
import type { Prisma } from '../db/index.ts';
import { InputValidationError } from '../generations/errors.ts';
import type { GenerationLogLine } from '../generations/events.ts';
import { HISTORY_ORDER, historyWhere, MAX_SEARCH_LENGTH } from '../generations/list-generations.ts';
import { visibleTo } from '../generations/service.ts';
import { builder } from './builder.ts';
import { generationIdFromArg } from './ids.ts';

export const VideoGenerationStatusEnum = builder.enumType('VideoGenerationStatus', {
  values: ['PENDING', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED'] as const,
});

export const FalBackendEnum = builder.enumType('FalBackend', {
  description: 'Where a generation was sent: the real fal.ai, or the built-in simulator (no real video).',
  values: ['FAL', 'SIMULATOR'] as const,
});

export const GenerationLogRef = builder.objectRef<GenerationLogLine>('GenerationLog').implement({
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: "Position in the generation's event sequence." }),
    message: t.exposeString('message'),
    level: t.exposeString('level'),
    timestamp: t.field({ type: 'DateTime', resolve: (line) => line.timestamp }),
  }),
});

const VideoShotRef = builder.objectRef<{ prompt: string; duration: number | null }>('VideoShot').implement({
  fields: (t) => ({
    prompt: t.exposeString('prompt'),
    duration: t.exposeInt('duration', { nullable: true }),
  }),
});

const GenerationErrorRef = builder.objectRef<{ code: string; message: string }>('GenerationError').implement({
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.exposeString('code'),
  }),
});

export const ArchiveStatusEnum = builder.enumType('ArchiveStatus', {
  description: "Progress of copying the video from fal (whose URLs expire) into this server's own storage.",
  values: ['PENDING', 'RETRYING', 'ARCHIVED', 'FAILED'] as const,
});

builder.prismaObject('VideoOutput', {
  name: 'VideoFile',
  fields: (t) => ({
    url: t.string({
      description:
        "Stable URL on this server: the archived copy (with HTTP Range support), or a redirect to fal's URL until it is archived.",
      resolve: (video, _args, ctx) => `${ctx.publicOrigin}${ctx.videoPath(video.generationId)}`,
    }),
    sourceUrl: t.exposeString('sourceUrl', { description: "fal's URL for the file (temporary)." }),
    archiveStatus: t.field({ type: ArchiveStatusEnum, resolve: (video) => video.archiveStatus }),
    sha256: t.exposeString('archiveSha256', { nullable: true, description: 'SHA-256 of the archived file.' }),
    contentType: t.exposeString('contentType', { nullable: true }),
    fileName: t.exposeString('fileName', { nullable: true }),
    fileSize: t.exposeInt('fileSize', { nullable: true }),
  }),
});

export const VideoGenerationRef = builder.prismaNode('Generation', {
  name: 'VideoGeneration',
  id: { field: 'id' },
  // node(id) only finds the caller's own generations: a foreign id looks exactly like an unknown one.
  findUnique: (id, ctx) => ({ id, ...visibleTo(ctx.caller) }),
  // ...so a miss is null, not an error (Pothos would otherwise use findUniqueOrThrow).
  nullable: true,
  fields: (t) => ({
    status: t.field({ type: VideoGenerationStatusEnum, resolve: (g) => g.status }),
    queuePosition: t.exposeInt('queuePosition', { nullable: true }),
    endpointId: t.exposeString('endpointId'),
    falRequestId: t.exposeString('falRequestId', { nullable: true }),
    backend: t.field({ type: FalBackendEnum, resolve: (g) => g.backend }),
    imageUrl: t.exposeString('imageUrl'),
    endImageUrl: t.exposeString('endImageUrl', { nullable: true }),
    prompt: t.exposeString('prompt', { nullable: true }),
    multiPrompt: t.field({
      type: [VideoShotRef],
      nullable: true,
      resolve: (g) =>
        Array.isArray(g.multiPrompt)
          ? (g.multiPrompt as Array<{ prompt: string; duration?: number | null }>).map((s) => ({
              prompt: s.prompt,
              duration: s.duration ?? null,
            }))
          : null,
    }),
    duration: t.exposeInt('duration'),
    generateAudio: t.exposeBoolean('generateAudio'),
    shotType: t.exposeString('shotType'),
    estimatedCost: t.float({
      description: 'What fal is expected to charge for this generation, in US dollars (price table at creation time).',
      resolve: (g) => microsToUsd(g.estimatedCostMicros),
    }),
    logs: t.field({
      type: [GenerationLogRef],
      select: { events: { where: { kind: 'LOG' }, orderBy: { sequence: 'asc' } } },
      resolve: (g) =>
        g.events.map((e) => ({
          sequence: e.sequence,
          message: e.logMessage ?? '',
          level: e.logLevel ?? 'INFO',
          timestamp: e.logTimestamp ?? e.createdAt,
        })),
    }),
    video: t.relation('video', { nullable: true }),
    error: t.field({
      type: GenerationErrorRef,
      nullable: true,
      resolve: (g) => (g.errorCode ? { code: g.errorCode, message: g.errorMessage ?? g.errorCode } : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});

const VideoGenerationFilter = builder.inputType('VideoGenerationFilter', {
  fields: (t) => ({
    status: t.field({ type: [VideoGenerationStatusEnum], required: false, description: 'Only generations in one of these states.' }),
    backend: t.field({ type: FalBackendEnum, required: false }),
    search: t.string({
      required: false,
      description:
        'Full-text search over the prompt and the shot prompts (web search syntax: words, "a phrase", or, -word; whole ' +
        `words, any case). At most ${MAX_SEARCH_LENGTH} characters, not empty.`,
    }),
    createdAfter: t.field({ type: 'DateTime', required: false, description: 'Only generations created at or after this instant.' }),
    createdBefore: t.field({
      type: 'DateTime',
      required: false,
      description: 'Only generations created strictly before this instant (later than createdAfter).',
    }),
  }),
});

/**
 * The columns VideoGeneration's fields read. A history page reads only these (plus the relations the query
 * selects), not the whole row: falInput, webhookOutcome and the lease and idempotency columns are never shown,
 * and reading and decoding every column was most of the page's cost on PGlite (5.1 of ~9 ms CPU per 51-row
 * page; the same query with only the shown columns, 1.6 ms). Select mode (Pothos `select` on the type) would
 * narrow further, but makes every row a mutation returns read its fields again.
 */
const LISTED_COLUMNS = {
  id: true,
  status: true,
  queuePosition: true,
  endpointId: true,
  falRequestId: true,
  backend: true,
  imageUrl: true,
  endImageUrl: true,
  prompt: true,
  multiPrompt: true,
  duration: true,
  generateAudio: true,
  shotType: true,
  estimatedCostMicros: true,
  errorCode: true,
  errorMessage: true,
  createdAt: true,
  updatedAt: true,
  startedAt: true,
  completedAt: true,
} satisfies Prisma.GenerationSelect;

/** Pothos' query (paging, and `include` for the relations asked for) as a select of the listed columns. */
function listQuery<Q extends { include?: Prisma.GenerationInclude }>(query: Q) {
  const { include, ...rest } = query;
  // The rows lack only columns no field reads; Pothos' row type is the full model.
  return { ...rest, select: { ...LISTED_COLUMNS, ...include } } as unknown as Omit<Q, 'include'>;
}

builder.queryFields((t) => ({
  videoGeneration: t.prismaField({
    type: 'Generation',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const id = generationIdFromArg(String(args.id));
      if (!id) return null;
      return ctx.db.generation.findFirst({ ...query, where: { id, ...visibleTo(ctx.caller) } });
    },
  }),
  videoGenerations: t.prismaConnection(
    {
      type: 'Generation',
      cursor: 'id',
      description: 'Every generation of the caller, newest first (Relay connection).',
      args: { filter: t.arg({ type: VideoGenerationFilter, required: false }) },
      resolve: async (query, _root, args, ctx) => {
        let where;
        try {
          where = await historyWhere(ctx.db, ctx.caller, args.filter, query);
        } catch (error) {
          // The field's type is a connection (the contract predates typed errors here), so a bad filter is a
          // GraphQL error with the field paths in its extensions rather than an error result.
          if (!(error instanceof InputValidationError)) throw error;
          throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', fieldErrors: error.fieldErrors } });
        }
        return ctx.db.generation.findMany({ ...listQuery(query), where, orderBy: HISTORY_ORDER });
      },
    },
    { name: 'VideoGenerationConnection' },
    { name: 'VideoGenerationEdge' },
  ),
}));
