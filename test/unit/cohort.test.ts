import { Repeater } from '@repeaterjs/repeater';
import { GraphQLError, parse } from 'graphql';
import { createSchema, createYoga, maskError } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { LiveEvents } from '../../src/generations/live-event.ts';
import { PUSH, type Push, type Pushable } from '../../src/generations/push.ts';
import { DIRECT_SINK, useCohortExecution, type DirectSink } from '../../src/http/cohort.ts';
import { until } from '../helpers/until.ts';

type Event = { id: string };

/**
 * A source that pushes as GenerationEventStream does (generations/push.ts): while its puller is parked, an event
 * goes to the transport's push, and one push refuses waits for the next pull; end() completes it.
 */
class PushSource implements AsyncIterableIterator<Event>, Pushable<Event> {
  push: Push<Event> | null = null;
  pushed = 0;
  private inbox: Array<Event | null> = [];
  private parked: ((result: IteratorResult<Event>) => void) | null = null;

  [PUSH](push: Push<Event>) {
    this.push = push;
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  get waiting() {
    return this.parked !== null;
  }
  receive(event: Event | null) {
    if (this.parked && event && this.inbox.length === 0 && this.push?.(event)) {
      this.pushed += 1;
      return;
    }
    this.inbox.push(event);
    const wake = this.parked;
    this.parked = null;
    wake?.(this.take()!);
  }
  private take(): IteratorResult<Event> | undefined {
    if (this.inbox.length === 0) return undefined;
    const event = this.inbox.shift()!;
    return event ? { value: event, done: false } : { value: undefined, done: true };
  }
  next(): Promise<IteratorResult<Event>> {
    const ready = this.take();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => (this.parked = resolve));
  }
  return(): Promise<IteratorResult<Event>> {
    this.parked?.({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }
}

/** Yoga's own mask, as src/http/yoga.ts gives it to the plugin. */
const mask = (error: unknown) => maskError(error, 'Unexpected error.') as GraphQLError;

// A tiny schema whose subscription hands every subscriber the same LiveEvent (made as the domain's hubs make
// them: dashboard updates, whose id stands for n here) and counts how often a field of the event is resolved.
function setUp(options: { pushing?: boolean } = {}) {
  const listeners = new Set<(event: Event) => void>();
  const sources: PushSource[] = [];
  const hub = new LiveEvents();
  let resolved = 0;
  const schema = createSchema<{ tenant: string; who?: string }>({
    typeDefs:
      'type Query { ok: Boolean } type Event { n: Int! label(suffix: String): String! who: String! } type Subscription { events: Event! }',
    resolvers: {
      Subscription: {
        events: {
          subscribe: () => {
            if (options.pushing) {
              const source = new PushSource();
              sources.push(source);
              return source;
            }
            return new Repeater<Event>(async (push, stop) => {
              const listener = (event: Event) => void push(event);
              listeners.add(listener);
              await stop;
              listeners.delete(listener);
            });
          },
          resolve: (event: Event) => event,
        },
      },
      Event: {
        n: (event: Event) => Number(event.id),
        label: (event: Event, args: { suffix?: string }, ctx: { tenant: string }) => {
          resolved += 1;
          if (event.id === '13') throw new Error('unlucky');
          return `${ctx.tenant}:${event.id}${args.suffix ?? ''}`;
        },
        who: (_event: Event, _args: unknown, ctx: { who?: string }) => ctx.who ?? '',
      },
    },
  });
  const yoga = createYoga({
    schema,
    plugins: [useCohortExecution({ cohortOf: (ctx) => (ctx as { tenant: string }).tenant, maskError: mask })],
  });
  const document = parse('subscription($s: String) { events { n label(suffix: $s) } }');
  const whoDocument = parse('subscription($s: String) { events { n who label(suffix: $s) } }');
  const subscribe = async (tenant: string, suffix: string | null, sink?: DirectSink, who?: string) => {
    const { subscribe: run, contextFactory } = yoga.getEnveloped({ tenant, who });
    const contextValue = Object.assign(await contextFactory(), sink ? { [DIRECT_SINK]: sink } : {});
    const stream = (await run({
      schema: yoga.getEnveloped().schema,
      document: who === undefined ? document : whoDocument,
      variableValues: { s: suffix },
      contextValue,
    })) as AsyncGenerator<{ data: { events: { label: string } } }>;
    return stream;
  };
  const emit = (event: { n: number }) => {
    const live = hub.update({ id: String(event.n), tenantId: 't' });
    listeners.forEach((l) => l(live));
    sources.forEach((source) => source.receive(live));
  };
  /** The same object to every subscriber, but not a LiveEvent: nothing to memoise on. */
  const emitPlain = (event: { n: number }) => {
    const plain = { id: String(event.n) };
    listeners.forEach((l) => l(plain));
  };
  const end = () => sources.forEach((source) => source.receive(null));
  return { subscribe, emit, emitPlain, end, sources, resolved: () => resolved, listening: () => listeners.size };
}

describe('cohort execution', () => {
  it('executes a shared event once per cohort (document, variables, tenant), and every member gets the right result', async () => {
    const t = setUp();
    const members = await Promise.all([
      t.subscribe('acme', null),
      t.subscribe('acme', null),
      t.subscribe('acme', null),
      t.subscribe('acme', '!'),
      t.subscribe('globex', null),
    ]);
    const firsts = members.map((m) => m.next());
    await until('all 5 subscribers to be listening', () => t.listening() === 5, { intervalMs: 1 });
    t.emit({ n: 1 });
    const labels = (await Promise.all(firsts)).map((r) => r.value!.data.events.label);
    expect(labels).toEqual(['acme:1', 'acme:1', 'acme:1', 'acme:1!', 'globex:1']);
    // Three cohorts: acme without suffix (3 members), acme with "!", globex.
    expect(t.resolved()).toBe(3);
    // A new event object is executed afresh.
    const seconds = members.map((m) => m.next());
    t.emit({ n: 2 });
    expect((await Promise.all(seconds)).map((r) => r.value!.data.events.label)).toEqual([
      'acme:2',
      'acme:2',
      'acme:2',
      'acme:2!',
      'globex:2',
    ]);
    expect(t.resolved()).toBe(6);
    // An object that is not a LiveEvent is executed for each subscriber (no identity convention to rely on).
    const thirds = members.map((m) => m.next());
    t.emitPlain({ n: 3 });
    expect((await Promise.all(thirds)).map((r) => r.value!.data.events.label)).toEqual([
      'acme:3',
      'acme:3',
      'acme:3',
      'acme:3!',
      'globex:3',
    ]);
    expect(t.resolved()).toBe(11);
    // Unsubscribing ends the source.
    await Promise.all(members.map((m) => m.return(undefined)));
    expect(t.listening()).toBe(0);
  });

  it('writes error-free results to a direct sink as ready-made frames, serialised once per cohort and subscription id', async () => {
    const t = setUp();
    const sink = (id: string) => {
      const frames: Buffer[] = [];
      let open = true;
      return {
        frames,
        close: () => (open = false),
        sink: {
          prefix: `{"id":${JSON.stringify(id)},"type":"next","payload":`,
          open: () => open,
          send: (frame: Buffer) => void frames.push(frame),
        },
      };
    };
    const a = sink('1');
    const b = sink('1');
    const c = sink('7');
    const members = await Promise.all([
      t.subscribe('acme', null, a.sink),
      t.subscribe('acme', null, b.sink),
      t.subscribe('acme', null, c.sink),
    ]);
    // The transport pulls once; frames are written while that pull is pending.
    const pulls = members.map((m) => m.next());
    await until('all 3 subscribers to be listening', () => t.listening() === 3, { intervalMs: 1 });
    t.emit({ n: 1 });
    t.emit({ n: 2 });
    await until('two frames written to each of a, b and c', () => c.frames.length === 2 && a.frames.length === 2 && b.frames.length === 2, {
      intervalMs: 1,
    });
    expect(a.frames.map(String)).toEqual([
      '{"id":"1","type":"next","payload":{"data":{"events":{"n":1,"label":"acme:1"}}}}',
      '{"id":"1","type":"next","payload":{"data":{"events":{"n":2,"label":"acme:2"}}}}',
    ]);
    expect(c.frames.map((f) => JSON.parse(String(f)))).toEqual(
      [1, 2].map((n) => ({ id: '7', type: 'next', payload: { data: { events: { n, label: `acme:${n}` } } } })),
    );
    // One execution per event for the cohort, and the same bytes for subscribers that chose the same id.
    expect(t.resolved()).toBe(2);
    expect(a.frames[0]).toBe(b.frames[0]);
    expect(a.frames[1]).toBe(b.frames[1]);
    // A closed socket gets nothing written: the result goes back to the transport's ordinary path.
    a.close();
    t.emit({ n: 3 });
    expect((await pulls[0]).value!.data.events.label).toBe('acme:3');
    expect(a.frames).toHaveLength(2);
    // Ending a subscription ends its source, and nothing more is written for it.
    await members[1].return(undefined);
    expect(await pulls[1]).toEqual({ value: undefined, done: true });
    t.emit({ n: 4 });
    await until('four frames written to c', () => c.frames.length === 4, { intervalMs: 1 });
    expect(b.frames).toHaveLength(3);
    await Promise.all([members[0].return(undefined), members[2].return(undefined)]);
    expect(t.listening()).toBe(0);
  });

  it('takes pushed events: one execution per cohort, written in order behind results that need the ordinary path', async () => {
    const t = setUp({ pushing: true });
    const sinks = ['1', '1', '2'].map((id) => {
      const frames: string[] = [];
      return {
        frames,
        sink: { prefix: `{"id":"${id}","type":"next","payload":`, open: () => true, send: (f: Buffer) => void frames.push(String(f)) },
      };
    });
    const members = await Promise.all(sinks.map((s) => t.subscribe('acme', null, s.sink)));
    const pulls = members.map((m) => m.next());
    await until('every source parked with a push', () => t.sources.length === 3 && t.sources.every((s) => s.push !== null && s.waiting), {
      intervalMs: 1,
    });
    t.emit({ n: 1 });
    t.emit({ n: 2 });
    await until('two frames each', () => sinks.every((s) => s.frames.length === 2), { intervalMs: 1 });
    expect(t.sources.map((s) => s.pushed)).toEqual([2, 2, 2]);
    expect(t.resolved()).toBe(2);
    expect(sinks[2].frames.map((f) => JSON.parse(f))).toEqual(
      [1, 2].map((n) => ({ id: '2', type: 'next', payload: { data: { events: { n, label: `acme:${n}` } } } })),
    );
    // A result with errors goes to the transport (graphql-ws.ts sends it): what follows waits for it. It is masked
    // already, once for the whole cohort: the resolver's own message never reaches a subscriber.
    t.emit({ n: 13 });
    t.emit({ n: 14 });
    const handed = await Promise.all(pulls);
    expect(handed.map((r) => r.value!.data)).toEqual([null, null, null]);
    expect(handed.map((r) => r.value!.errors?.map((e: GraphQLError) => e.message))).toEqual([1, 2, 3].map(() => ['Unexpected error.']));
    expect(handed[1].value).toBe(handed[0].value);
    expect(handed[2].value).toBe(handed[0].value);
    expect(sinks[0].frames).toHaveLength(2);
    const ends = members.map((m) => m.next());
    await until('the frame after it', () => sinks.every((s) => s.frames.length === 3), { intervalMs: 1 });
    expect(JSON.parse(sinks[0].frames[2]).payload.data.events.n).toBe(14);
    // The source's end completes the subscription, after what it pushed before is written.
    t.emit({ n: 15 });
    t.end();
    expect(await Promise.all(ends)).toEqual([1, 2, 3].map(() => ({ value: undefined, done: true })));
    expect(sinks.map((s) => s.frames.length)).toEqual([4, 4, 4]);
  });

  it('runs a compiled document: a pushed event whose resolvers are synchronous is written to every member inside the push itself', async () => {
    const t = setUp({ pushing: true });
    const sinks = ['1', '2'].map((id) => {
      const frames: string[] = [];
      return {
        frames,
        sink: { prefix: `{"id":"${id}","type":"next","payload":`, open: () => true, send: (f: Buffer) => void frames.push(String(f)) },
      };
    });
    const members = await Promise.all(sinks.map((s) => t.subscribe('acme', '!', s.sink)));
    const pulls = members.map((m) => m.next());
    await until('every source parked with a push', () => t.sources.length === 2 && t.sources.every((s) => s.push !== null && s.waiting), {
      intervalMs: 1,
    });
    // No await between the emit and the check: graphql-js' executor would settle a microtask later at the
    // earliest; graphql-jit's function for the document answers synchronously, and the frame goes out at once.
    t.emit({ n: 7 });
    expect(sinks.map((s) => s.frames.map((f) => JSON.parse(f) as unknown))).toEqual(
      ['1', '2'].map((id) => [{ id, type: 'next', payload: { data: { events: { n: 7, label: 'acme:7!' } } } }]),
    );
    expect(t.resolved()).toBe(1);
    // Errors are graphql-js' (located, with their path) and masked, exactly as on the interpreted path.
    t.emit({ n: 13 });
    const handed = await Promise.all(pulls);
    expect(handed[0].value!.errors!.map((e: GraphQLError) => ({ message: e.message, path: e.path, locations: e.locations }))).toEqual([
      { message: 'Unexpected error.', path: ['events', 'label'], locations: [{ line: 1, column: 39 }] },
    ]);
    t.end();
    await Promise.all(members.map((m) => m.next()));
  });

  it("shares one set of arguments per cohort, never across tenants, and drops it with the cohort's last member", async () => {
    const t = setUp();
    const label = (r: IteratorResult<{ data: { events: { label: string } } }>) =>
      r.value!.data.events as { n: number; who: string; label: string };
    // Two members of one cohort and one of another tenant's: one execution each cohort, with a context of its own.
    const a = await t.subscribe('acme', null, undefined, 'a');
    const b = await t.subscribe('acme', null, undefined, 'b');
    const g = await t.subscribe('globex', null, undefined, 'g');
    let pending = [a.next(), b.next(), g.next()];
    await until('3 subscribers to be listening', () => t.listening() === 3, { intervalMs: 1 });
    t.emit({ n: 1 });
    const first = (await Promise.all(pending)).map(label);
    expect(first.map((e) => e.label)).toEqual(['acme:1', 'acme:1', 'globex:1']);
    expect(first[0].who).toBe(first[1].who);
    expect(first[2].who).toBe('g');
    expect(t.resolved()).toBe(2);
    // Every member of the acme cohort ends: its arguments go with it, so the next acme subscriber's executions
    // run with its own context, not with one of a subscription that ended.
    await a.return(undefined);
    await b.return(undefined);
    await until('the acme members to be gone', () => t.listening() === 1, { intervalMs: 1 });
    const c = await t.subscribe('acme', null, undefined, 'c');
    pending = [c.next(), g.next()];
    await until('2 subscribers to be listening', () => t.listening() === 2, { intervalMs: 1 });
    t.emit({ n: 2 });
    const second = (await Promise.all(pending)).map(label);
    expect(second).toEqual([
      { n: 2, who: 'c', label: 'acme:2' },
      { n: 2, who: 'g', label: 'globex:2' },
    ]);
    await c.return(undefined);
    await g.return(undefined);
  });

  it('masks what Yoga would: a failing stream, a stream that cannot start, and resolver errors, on the direct and the ordinary path', async () => {
    let failure: Error = new Error('connection to postgres://user:secret@db failed');
    const schema = createSchema({
      typeDefs: 'type Query { ok: Boolean } type Subscription { ticks(start: String): Int! }',
      resolvers: {
        Subscription: {
          ticks: {
            subscribe: (_root: unknown, args: { start?: string }) => {
              if (args.start === 'missing') throw new GraphQLError('No such generation', { extensions: { code: 'NOT_FOUND' } });
              if (args.start === 'broken') throw new Error('relation "generation" does not exist');
              return (async function* () {
                yield await Promise.resolve(1);
                throw failure;
              })();
            },
            resolve: (tick: number) => tick,
          },
        },
      },
    });
    const yoga = createYoga({ schema, plugins: [useCohortExecution({ cohortOf: () => '', maskError: mask })] });
    const run = async (query: string, sink?: DirectSink) => {
      const { subscribe, contextFactory, schema: enveloped } = yoga.getEnveloped({});
      const contextValue = Object.assign(await contextFactory(), sink ? { [DIRECT_SINK]: sink } : {});
      return (await subscribe({ schema: enveloped, document: parse(query), contextValue })) as
        AsyncGenerator<{ data?: unknown }> | { errors?: GraphQLError[] };
    };
    // A stream's failure: "Unexpected error." on the ordinary path (SSE) and the direct one (graphql-ws).
    const ordinary = (await run('subscription { ticks }')) as AsyncGenerator<{ data?: unknown }>;
    expect(await ordinary.next()).toEqual({ value: { data: { ticks: 1 } }, done: false });
    await expect(ordinary.next()).rejects.toThrow(/^Unexpected error\.$/);
    const frames: string[] = [];
    const direct = (await run('subscription { ticks }', {
      prefix: '{"id":"1","type":"next","payload":',
      open: () => true,
      send: (frame: Buffer) => void frames.push(String(frame)),
    })) as AsyncGenerator<{ data?: unknown }>;
    await expect(direct.next()).rejects.toThrow(/^Unexpected error\.$/);
    expect(frames).toEqual(['{"id":"1","type":"next","payload":{"data":{"ticks":1}}}']);
    // Our own errors are shown as they are.
    failure = new GraphQLError('Generation was deleted', { extensions: { code: 'GONE' } });
    const ours = (await run('subscription { ticks }')) as AsyncGenerator<{ data?: unknown }>;
    await ours.next();
    await expect(ours.next()).rejects.toThrow(/^Generation was deleted$/);
    // A stream that cannot start: the error result, an original GraphQLError kept as it is.
    const refused = (await run('subscription { ticks(start: "missing") }')) as { errors?: GraphQLError[] };
    expect(refused.errors?.map((e: GraphQLError) => [e.message, e.extensions.code])).toEqual([['No such generation', 'NOT_FOUND']]);
    const broken = (await run('subscription { ticks(start: "broken") }')) as { errors?: GraphQLError[] };
    expect(broken.errors?.map((e: GraphQLError) => [e.message, e.extensions.code])).toEqual([
      ['Unexpected error.', 'INTERNAL_SERVER_ERROR'],
    ]);
  });
});
