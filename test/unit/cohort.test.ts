import { Repeater } from '@repeaterjs/repeater';
import { parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useCohortExecution } from '../../src/http/cohort.ts';

// A tiny schema whose subscription hands every subscriber the same event objects (as the domain's hub
// does) and counts how often a field of the event is resolved.
function setUp() {
  const listeners = new Set<(event: { n: number }) => void>();
  let resolved = 0;
  const schema = createSchema<{ tenant: string }>({
    typeDefs: 'type Query { ok: Boolean } type Event { n: Int! label(suffix: String): String! } type Subscription { events: Event! }',
    resolvers: {
      Subscription: {
        events: {
          subscribe: () =>
            new Repeater<{ n: number }>(async (push, stop) => {
              const listener = (event: { n: number }) => void push(event);
              listeners.add(listener);
              await stop;
              listeners.delete(listener);
            }),
          resolve: (event: { n: number }) => event,
        },
      },
      Event: {
        label: (event: { n: number }, args: { suffix?: string }, ctx: { tenant: string }) => {
          resolved += 1;
          return `${ctx.tenant}:${event.n}${args.suffix ?? ''}`;
        },
      },
    },
  });
  const yoga = createYoga({ schema, plugins: [useCohortExecution((ctx) => (ctx as { tenant: string }).tenant)] });
  const document = parse('subscription($s: String) { events { n label(suffix: $s) } }');
  const subscribe = async (tenant: string, suffix: string | null) => {
    const { subscribe: run, contextFactory } = yoga.getEnveloped({ tenant });
    const stream = (await run({ schema: yoga.getEnveloped().schema, document, variableValues: { s: suffix }, contextValue: await contextFactory() })) as AsyncGenerator<{ data: { events: { label: string } } }>;
    return stream;
  };
  const emit = (event: { n: number }) => listeners.forEach((l) => l(event));
  return { subscribe, emit, resolved: () => resolved, listening: () => listeners.size };
}

describe('cohort execution', () => {
  it('executes a shared event once per cohort (document, variables, tenant), and every member gets the right result', async () => {
    const t = setUp();
    const members = await Promise.all([t.subscribe('acme', null), t.subscribe('acme', null), t.subscribe('acme', null), t.subscribe('acme', '!'), t.subscribe('globex', null)]);
    const firsts = members.map((m) => m.next());
    await new Promise<void>((resolve) => {
      const check = () => (t.listening() === 5 ? resolve() : setImmediate(check));
      check();
    });
    t.emit({ n: 1 });
    const labels = (await Promise.all(firsts)).map((r) => r.value!.data.events.label);
    expect(labels).toEqual(['acme:1', 'acme:1', 'acme:1', 'acme:1!', 'globex:1']);
    // Three cohorts: acme without suffix (3 members), acme with "!", globex.
    expect(t.resolved()).toBe(3);
    // A new event object is executed afresh.
    const seconds = members.map((m) => m.next());
    t.emit({ n: 2 });
    expect((await Promise.all(seconds)).map((r) => r.value!.data.events.label)).toEqual(['acme:2', 'acme:2', 'acme:2', 'acme:2!', 'globex:2']);
    expect(t.resolved()).toBe(6);
    // Unsubscribing ends the source.
    await Promise.all(members.map((m) => m.return(undefined)));
    expect(t.listening()).toBe(0);
  });
});
