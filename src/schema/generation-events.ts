import { GraphQLError } from 'graphql';
import { GenerationNotFoundError } from '../generations/errors.ts';
import type { GenerationEvent } from '../generations/events.ts';
import { replayPageOf } from '../generations/subscriptions.ts';
import { builder } from './builder.ts';
import { endSlowSubscriber } from './subscriber.ts';
import { generationIdFromArg } from './ids.ts';
import { GenerationLogRef, VideoGenerationRef, VideoGenerationStatusEnum } from './video-generation.ts';

type StatusEvent = Extract<GenerationEvent, { kind: 'STATUS' }>;
type LogEvent = Extract<GenerationEvent, { kind: 'LOG' }>;

/**
 * Load once per event: a live event is one object shared by every local subscriber (see
 * generations/subscriptions.ts), so the row it points at is read once per selection and tenant, not once per
 * subscriber. Entries live as long as the event object does.
 */
const generationLoads = new WeakMap<object, Map<string, Promise<unknown>>>();

/**
 * Log lines written by one statement carry the same `batch` name, and every one of them is published only
 * after that write committed: one read of the row after the write is as fresh as each of them needs, so the
 * lines of a batch share it (per database, selection and tenant). The name survives the bus (Redis), where
 * event objects do not. A batch's lines are published together, so its loads are needed for moments only:
 * they are kept for one to two BATCH_LOADS_MS and then dropped (an idle server holds none; they used to stay
 * until 2,048 later batches pushed them out, each holding the rows it read). A reader that comes later (a
 * slow subscriber) simply reads again. MAX_BATCHES_PER_DB bounds a burst.
 */
const BATCH_LOADS_MS = 1_000;
const MAX_BATCHES_PER_DB = 2_048;
type Loads = Map<string, Promise<unknown>>;
interface BatchLoads {
  current: Map<string, Loads>;
  previous: Map<string, Loads>;
  /** Rotates current into previous; stops itself once both are empty, so an idle server has no timer. */
  timer: ReturnType<typeof setInterval> | null;
}
const batchLoads = new WeakMap<object, BatchLoads>();

function batchLoadsOf(db: object): BatchLoads {
  let cache = batchLoads.get(db);
  if (!cache) batchLoads.set(db, (cache = { current: new Map(), previous: new Map(), timer: null }));
  if (!cache.timer) {
    const rotating = cache;
    rotating.timer = setInterval(() => {
      rotating.previous = rotating.current;
      rotating.current = new Map();
      if (rotating.previous.size > 0) return;
      clearInterval(rotating.timer as ReturnType<typeof setInterval>);
      rotating.timer = null;
    }, BATCH_LOADS_MS);
    rotating.timer.unref();
  }
  return cache;
}

function loadsFor(event: GenerationEvent, db: object): Loads {
  if (event.kind === 'LOG' && event.batch) {
    const batches = batchLoadsOf(db);
    let loads = batches.current.get(event.batch) ?? batches.previous.get(event.batch);
    if (!loads) {
      if (batches.current.size >= MAX_BATCHES_PER_DB) batches.current.delete(batches.current.keys().next().value as string);
      batches.current.set(event.batch, (loads = new Map<string, Promise<unknown>>()));
    }
    return loads;
  }
  // History replayed to one subscriber is read a page at a time: the events of one page share one read.
  const owner = replayPageOf(event) ?? event;
  let loads = generationLoads.get(owner);
  if (!loads) generationLoads.set(owner, (loads = new Map<string, Promise<unknown>>()));
  return loads;
}

const VideoGenerationEventRef = builder.interfaceRef<GenerationEvent>('VideoGenerationEvent').implement({
  description: "One entry of a generation's ordered event log; sequence numbers start at 1 and have no gaps.",
  resolveType: (event) => (event.kind === 'STATUS' ? 'VideoGenerationStatusEvent' : 'VideoGenerationLogEvent'),
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: 'Position in the log, from 1; pass the last one seen as afterSequence to resume.' }),
    generation: t.prismaField({
      type: 'Generation',
      description: 'The generation as it is when this event is delivered (read after the event was recorded).',
      resolve: (query, event, _args, ctx) => {
        const loads = loadsFor(event, ctx.db);
        const key = `${ctx.caller.tenantId}|${JSON.stringify(query)}`;
        let load = loads.get(key);
        if (!load) loads.set(key, (load = ctx.db.generation.findUniqueOrThrow({ ...query, where: { id: event.generationId } })));
        return load as ReturnType<typeof ctx.db.generation.findUniqueOrThrow>;
      },
    }),
  }),
});

builder.objectRef<StatusEvent>('VideoGenerationStatusEvent').implement({
  description: 'The generation changed state.',
  interfaces: [VideoGenerationEventRef],
  isTypeOf: (event) => (event as GenerationEvent).kind === 'STATUS',
  fields: (t) => ({
    status: t.field({ type: VideoGenerationStatusEnum, description: 'The state it entered.', resolve: (event) => event.status }),
    queuePosition: t.exposeInt('queuePosition', {
      nullable: true,
      description: "Place in fal's queue at this moment when IN_QUEUE (0 = next); null otherwise.",
    }),
  }),
});

builder.objectRef<LogEvent>('VideoGenerationLogEvent').implement({
  description: 'The model wrote a log line.',
  interfaces: [VideoGenerationEventRef],
  isTypeOf: (event) => (event as GenerationEvent).kind === 'LOG',
  fields: (t) => ({
    log: t.field({ type: GenerationLogRef, description: 'The line.', resolve: (event) => event.log }),
  }),
});

builder.subscriptionFields((t) => ({
  videoGenerationEvents: t.field({
    type: VideoGenerationEventRef,
    description:
      'Everything that happened to one generation after afterSequence (from the start when omitted), then live events, in order; completes after the terminal status.',
    args: {
      id: t.arg.id({ required: true, description: 'The generation, by global id (or its raw UUID).' }),
      afterSequence: t.arg.int({
        required: false,
        description: 'Replay only events after this sequence number (0 or more); omit for everything from the start.',
      }),
    },
    subscribe: async (_root, args, ctx) => {
      const id = generationIdFromArg(String(args.id));
      if (args.afterSequence !== null && args.afterSequence !== undefined && args.afterSequence < 0) {
        throw new GraphQLError('afterSequence must be 0 or more', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      try {
        if (!id) throw new GenerationNotFoundError(String(args.id));
        const stream = await ctx.generations.subscribeToEvents(id, args.afterSequence ?? null, ctx.caller);
        // A subscriber that stopped reading is ended by its transport (graphql-ws 4429, SSE closed).
        stream.onTooSlow(() => endSlowSubscriber(ctx));
        return stream;
      } catch (error) {
        if (error instanceof GenerationNotFoundError) {
          throw new GraphQLError(error.message, { extensions: { code: 'NOT_FOUND' } });
        }
        throw error;
      }
    },
    resolve: (event: GenerationEvent) => event,
  }),
  videoGenerationUpdated: t.prismaField({
    type: 'Generation',
    description: "The generation, each time any of the caller's generations changes (for live dashboards).",
    subscribe: (_root, _args, ctx) => {
      const stream = ctx.generations.subscribeToUpdates(ctx.caller);
      stream.onTooSlow(() => endSlowSubscriber(ctx));
      return stream;
    },
    resolve: (query, message, _args, ctx) => ctx.db.generation.findUniqueOrThrow({ ...query, where: { id: message.id } }),
  }),
}));

export { VideoGenerationRef };
