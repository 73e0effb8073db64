import { GraphQLError, type FieldNode, type GraphQLResolveInfo } from 'graphql';
import { queryFromInfo } from '@pothos/plugin-prisma';
import { GenerationNotFoundError } from '../generations/errors.ts';
import type { GenerationEvent, GenerationUpdatedMessage } from '../generations/events.ts';
import { builder } from './builder.ts';
import { endSlowSubscriber } from './subscriber.ts';
import { generationIdFromArg } from './ids.ts';
import { GenerationLogRef, VideoGenerationRef, VideoGenerationStatusEnum } from './video-generation.ts';

type StatusEvent = Extract<GenerationEvent, { kind: 'STATUS' }>;

/**
 * The Prisma query for an event's `generation { ... }`, planned once per operation (its context) and field, not
 * once per event as a prismaField would: a subscription's cohort executes the same selection for every event it
 * is open for, and planning it was a fifth of the bytes an event's execution allocated (BENCHMARKS.md, M5). The
 * plan depends only on the selection and the operation's variables, both fixed for one context; the loader
 * mappings the first planning records (what nested relations, e.g. `video`, were loaded with) stay in that
 * context's cache under the field's response path, which every later event's execution shares.
 */
const plans = new WeakMap<object, WeakMap<FieldNode, object>>();
function plannedQuery(ctx: object, info: GraphQLResolveInfo): object {
  let byField = plans.get(ctx);
  if (!byField) plans.set(ctx, (byField = new WeakMap()));
  const field = info.fieldNodes[0];
  let query = byField.get(field);
  if (!query) byField.set(field, (query = queryFromInfo({ context: ctx, info }) as object));
  return query;
}
type LogEvent = Extract<GenerationEvent, { kind: 'LOG' }>;

const VideoGenerationEventRef = builder.interfaceRef<GenerationEvent>('VideoGenerationEvent').implement({
  description: "One entry of a generation's ordered event log; sequence numbers start at 1 and have no gaps.",
  resolveType: (event) => (event.kind === 'STATUS' ? 'VideoGenerationStatusEvent' : 'VideoGenerationLogEvent'),
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: 'Position in the log, from 1; pass the last one seen as afterSequence to resume.' }),
    generation: t.field({
      type: VideoGenerationRef,
      description: 'The generation as it is when this event is delivered (read after the event was recorded).',
      // Read once per event batch, tenant and selection, however many subscribers (see schema/event-loader.ts).
      resolve: (event, _args, ctx, info) => {
        const query = plannedQuery(ctx, info);
        return ctx.eventLoader.generation(event, query, ctx.caller.tenantId, () =>
          ctx.db.generation.findUniqueOrThrow({ ...query, where: { id: event.generationId } }),
        );
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
    resolve: (query, message, _args, ctx) =>
      ctx.db.generation.findUniqueOrThrow({ ...query, where: { id: (message as GenerationUpdatedMessage).id } }),
  }),
}));

export { VideoGenerationRef };
