// A little over 250 lines: the VideoGeneration type with its own enums, filter input and root fields (one file per GraphQL type).
import { GraphQLError } from 'graphql';
import { microsToUsd } from '../billing/prices.ts';
import { InputValidationError } from '../generations/errors.ts';
import type { GenerationLogLine } from '../generations/events.ts';
import { visibleTo } from '../generations/caller.ts';
import { toLogLine } from '../generations/store.ts';
import type { ProgressSubject } from '../generations/estimate-progress.ts';
import { MAX_SEARCH_LENGTH, type HistoryColumn } from '../generations/list-generations.ts';
import { builder } from './builder.ts';
import { resolveHistoryConnection, type FieldColumns } from './history-connection.ts';
import { generationIdFromArg } from './ids.ts';

export const VideoGenerationStatusEnum = builder.enumType('VideoGenerationStatus', {
  description: 'Where a generation is in its life: PENDING -> IN_QUEUE -> IN_PROGRESS -> COMPLETED, FAILED or CANCELLED.',
  values: {
    PENDING: { description: 'Recorded by this server and being submitted to fal.' },
    IN_QUEUE: { description: 'Accepted by fal and waiting in its queue (see queuePosition, 0 = next).' },
    IN_PROGRESS: { description: 'Running at fal; log lines arrive.' },
    COMPLETED: { description: 'Finished with a video (final).' },
    FAILED: { description: 'Finished without a video; error says why (final).' },
    CANCELLED: { description: 'Cancelled before it finished (final).' },
  } as const,
});

export const FalBackendEnum = builder.enumType('FalBackend', {
  description: 'Where a generation was sent: the real fal.ai, or the built-in simulator (no real video).',
  values: {
    FAL: { description: 'The real fal.ai queue: real videos, real charges.' },
    SIMULATOR: { description: 'The built-in fal simulator: a placeholder video, nothing charged.' },
  } as const,
});

export const GenerationLogRef = builder.objectRef<GenerationLogLine>('GenerationLog').implement({
  description: 'One log line the model wrote while it ran, as fal reported it.',
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: "Position in the generation's event sequence." }),
    message: t.exposeString('message', { description: 'The text of the line.' }),
    level: t.exposeString('level', { description: "fal's log level, e.g. INFO, WARN or ERROR (INFO when fal gave none)." }),
    timestamp: t.field({ type: 'DateTime', description: 'When fal says the line was written.', resolve: (line) => line.timestamp }),
  }),
});

const VideoShotRef = builder.objectRef<{ prompt: string; duration: number | null }>('VideoShot').implement({
  description: 'One shot of a multi-shot generation, as it was requested.',
  fields: (t) => ({
    prompt: t.exposeString('prompt', { description: 'What happens in this shot.' }),
    duration: t.exposeInt('duration', { nullable: true, description: "Seconds for this shot; null = the model's choice." }),
  }),
});

/**
 * The codes below are the ones src/generations and src/fal record (grep for `code: '`); the field stays a String so
 * that a code fal adds later (FAL_<error_type>) reaches clients without a schema change.
 */
const GENERATION_ERROR_CODES = [
  'FAL_VALIDATION_ERROR: fal rejected the input (message has its field-by-field reasons).',
  'FAL_CONTENT_POLICY: fal refused the input or output under its content policy.',
  'FAL_START_TIMEOUT: fal did not start the request within its start timeout.',
  'FAL_UNREACHABLE: fal could not be reached (network error) while submitting.',
  'FAL_SUBMIT_FAILED: submitting to fal failed for another reason.',
  'FAL_REQUEST_NOT_FOUND: fal no longer knows the request.',
  'FAL_INVALID_OUTPUT: fal reported success but returned no video file.',
  'FAL_WEBHOOK_ERROR: fal reported an error through its webhook.',
  'FAL_<TYPE>: another error fal named (its error_type, upper-cased), e.g. FAL_REQUEST_TIMEOUT or FAL_RUNNER_SCHEDULING_FAILURE.',
  'FAL_HTTP_<status>: another error fal answered with this HTTP status and no error_type.',
  'DEADLINE_EXCEEDED: the generation did not finish within GENERATION_DEADLINE_S and was cancelled at fal.',
  'SUBMISSION_UNKNOWN: the server stopped while submitting; it was not resubmitted, to avoid paying twice (costs nothing).',
  'CANCELLED: cancelled while running (status CANCELLED; message has what fal said).',
];

const GenerationErrorRef = builder.objectRef<{ code: string; message: string }>('GenerationError').implement({
  description: 'Why a generation ended without a video.',
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What happened, for a person to read (often what fal said).' }),
    code: t.exposeString('code', {
      description: `A fixed code for programs to branch on. One of:\n${GENERATION_ERROR_CODES.map((line) => `- ${line}`).join('\n')}`,
    }),
  }),
});

export const ArchiveStatusEnum = builder.enumType('ArchiveStatus', {
  description: "Progress of copying the video from fal (whose URLs expire) into this server's own storage.",
  values: {
    PENDING: { description: 'Not copied yet; url redirects to fal.' },
    RETRYING: { description: 'A copy attempt failed and another is scheduled; url redirects to fal meanwhile.' },
    ARCHIVED: { description: 'Copied and checked (sha256); url serves the copy.' },
    FAILED: { description: "Given up after ARCHIVE_MAX_ATTEMPTS; url redirects to fal's URL for as long as it lasts." },
  } as const,
});

builder.prismaObject('VideoOutput', {
  name: 'VideoFile',
  description: 'The video a completed generation produced.',
  fields: (t) => ({
    url: t.string({
      description:
        "Stable URL on this server: the archived copy (with HTTP Range support), or a redirect to fal's URL until it is archived.",
      resolve: (video, _args, ctx) => `${ctx.publicOrigin}${ctx.videoPath(video.generationId)}`,
    }),
    sourceUrl: t.exposeString('sourceUrl', { description: "fal's URL for the file (temporary)." }),
    archiveStatus: t.field({
      type: ArchiveStatusEnum,
      description: "Whether url serves this server's copy yet.",
      resolve: (video) => video.archiveStatus,
    }),
    sha256: t.exposeString('archiveSha256', {
      nullable: true,
      description: 'SHA-256 of the archived file, in hex; null until it is archived.',
    }),
    contentType: t.exposeString('contentType', { nullable: true, description: 'MIME type fal gave, e.g. video/mp4.' }),
    fileName: t.exposeString('fileName', { nullable: true, description: 'File name fal gave.' }),
    fileSize: t.exposeInt('fileSize', { nullable: true, description: 'Size in bytes, as fal gave it.' }),
  }),
});

export const VideoGenerationRef = builder.prismaNode('Generation', {
  name: 'VideoGeneration',
  description: 'One image-to-video request: what was asked, where it is, and what came out.',
  id: { field: 'id', description: 'Global id (Relay). The id arguments also accept the raw UUID inside it.' },
  // node(id) only finds the caller's own generations: a foreign id looks exactly like an unknown one.
  findUnique: (id, ctx) => ({ id, ...visibleTo(ctx.caller) }),
  // ...so a miss is null, not an error (Pothos would otherwise use findUniqueOrThrow).
  nullable: true,
  fields: (t) => ({
    status: t.field({ type: VideoGenerationStatusEnum, description: 'Where it is now.', resolve: (g) => g.status }),
    queuePosition: t.exposeInt('queuePosition', {
      nullable: true,
      description: "Place in fal's queue while IN_QUEUE (0 = next); null in every other state.",
    }),
    endpointId: t.exposeString('endpointId', {
      description: 'The fal model endpoint, e.g. fal-ai/kling-video/o3/standard/image-to-video.',
    }),
    falRequestId: t.exposeString('falRequestId', { nullable: true, description: "fal's request id; null until fal accepted it." }),
    backend: t.field({ type: FalBackendEnum, description: 'Where it was sent.', resolve: (g) => g.backend }),
    imageUrl: t.exposeString('imageUrl', { description: 'Start frame URL (for an uploaded frame, its copy in fal storage).' }),
    endImageUrl: t.exposeString('endImageUrl', { nullable: true, description: 'End frame URL, if one was given.' }),
    prompt: t.exposeString('prompt', { nullable: true, description: 'The prompt; null when multiPrompt was given.' }),
    multiPrompt: t.field({
      type: [VideoShotRef],
      nullable: true,
      description: 'The shots; null when prompt was given.',
      resolve: (g) =>
        Array.isArray(g.multiPrompt)
          ? (g.multiPrompt as Array<{ prompt: string; duration?: number | null }>).map((s) => ({
              prompt: s.prompt,
              duration: s.duration ?? null,
            }))
          : null,
    }),
    duration: t.exposeInt('duration', { description: 'Seconds of video asked for.' }),
    generateAudio: t.exposeBoolean('generateAudio', { description: 'Whether native audio was asked for.' }),
    shotType: t.exposeString('shotType', { description: 'The shot_type passed to fal.' }),
    estimatedCost: t.float({
      description: 'What fal is expected to charge for this generation, in US dollars (price table at creation time).',
      resolve: (g) => microsToUsd(g.estimatedCostMicros),
    }),
    logs: t.field({
      type: [GenerationLogRef],
      description: 'Every log line so far, in sequence order.',
      select: { events: { where: { kind: 'LOG' }, orderBy: { sequence: 'asc' } } },
      resolve: (g) => g.events.map(toLogLine),
    }),
    video: t.relation('video', { nullable: true, description: 'The output; null until COMPLETED.' }),
    error: t.field({
      type: GenerationErrorRef,
      nullable: true,
      description: 'Why it ended without a video (FAILED, or CANCELLED while running); null otherwise.',
      resolve: (g) => (g.errorCode ? { code: g.errorCode, message: g.errorMessage ?? g.errorCode } : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When this server recorded the request.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the row last changed.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true, description: 'When it became IN_PROGRESS; null before.' }),
    completedAt: t.expose('completedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it reached a final state (COMPLETED, FAILED or CANCELLED); null before.',
    }),
  }),
});

const VideoGenerationFilter = builder.inputType('VideoGenerationFilter', {
  description: 'Narrows videoGenerations; every condition given must hold.',
  fields: (t) => ({
    status: t.field({ type: [VideoGenerationStatusEnum], required: false, description: 'Only generations in one of these states.' }),
    backend: t.field({ type: FalBackendEnum, required: false, description: 'Only generations sent to this backend.' }),
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

/** The columns the progress estimate reads (all of ProgressSubject's, checked by the type). */
const PROGRESS_COLUMNS = Object.keys({
  status: true,
  endpointId: true,
  duration: true,
  generateAudio: true,
  createdAt: true,
  startedAt: true,
  completedAt: true,
} satisfies Record<keyof ProgressSubject, true>) as HistoryColumn[];

/**
 * The columns each VideoGeneration field reads from its row. A history page reads only those of the fields
 * its document selects: reading and decoding every column was most of a page's cost (on PGlite 5.1 of ~9 ms
 * CPU per 51-row page for all columns, 1.6 ms for the 4 the document selected). A field missing here (one
 * added in another file) makes the page read every column, so forgetting it costs time, never a wrong answer;
 * test/e2e/history-columns.test.ts checks each field alone against the same row read by id. The relations
 * (logs, video) are read by Prisma after the page, for its ids.
 */
const FIELD_COLUMNS: FieldColumns = {
  __typename: [],
  id: ['id'],
  status: ['status'],
  queuePosition: ['queuePosition'],
  endpointId: ['endpointId'],
  falRequestId: ['falRequestId'],
  backend: ['backend'],
  imageUrl: ['imageUrl'],
  endImageUrl: ['endImageUrl'],
  prompt: ['prompt'],
  multiPrompt: ['multiPrompt'],
  duration: ['duration'],
  generateAudio: ['generateAudio'],
  shotType: ['shotType'],
  estimatedCost: ['estimatedCostMicros'],
  logs: 'relation',
  video: 'relation',
  error: ['errorCode', 'errorMessage'],
  createdAt: ['createdAt'],
  updatedAt: ['updatedAt'],
  startedAt: ['startedAt'],
  completedAt: ['completedAt'],
  progress: PROGRESS_COLUMNS,
};

builder.queryFields((t) => ({
  videoGeneration: t.prismaField({
    type: 'Generation',
    nullable: true,
    description: 'One generation of the caller, or null when there is none with this id the caller may see.',
    args: { id: t.arg.id({ required: true, description: 'Global id (or the raw UUID).' }) },
    resolve: (query, _root, args, ctx) => {
      const id = generationIdFromArg(String(args.id));
      if (!id) return null;
      return ctx.db.generation.findFirst({ ...query, where: { id, ...visibleTo(ctx.caller) } });
    },
  }),
  videoGenerations: t.connection(
    {
      type: VideoGenerationRef,
      description: 'Every generation of the caller, newest first (Relay connection).',
      args: { filter: t.arg({ type: VideoGenerationFilter, required: false, description: 'Only the generations that match.' }) },
      resolve: async (_root, args, ctx, info) => {
        try {
          return await resolveHistoryConnection(args, ctx, info, FIELD_COLUMNS);
        } catch (error) {
          // The field's type is a connection (the contract predates typed errors here), so a bad filter is a
          // GraphQL error with the field paths in its extensions rather than an error result.
          if (!(error instanceof InputValidationError)) throw error;
          throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', fieldErrors: error.fieldErrors } });
        }
      },
    },
    { name: 'VideoGenerationConnection', description: 'A page of generations (Relay cursor connection).' },
    { name: 'VideoGenerationEdge', description: 'One generation in a page, with its cursor.' },
  ),
}));
