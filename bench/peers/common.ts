/**
 * What the three peer servers share: the same upstream (the fal simulator's queue API over HTTP: submit, then
 * one SSE status stream with logs per generation, exactly what reelgraph's tracker consumes), the same event
 * shape and the same subscription SDL as reelgraph's `videoGenerationEvents`. Peers keep generations in
 * memory only; they persist nothing (that is part of what the comparison shows).
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SIM_URL = process.env.SIM_URL ?? '';
export const FAL_KEY = process.env.FAL_KEY ?? 'bench-key';
const ENDPOINT = 'fal-ai/kling-video/o3/standard/image-to-video';

export const SDL = /* GraphQL */ `
  scalar DateTime
  enum VideoGenerationStatus { CANCELLED COMPLETED FAILED IN_PROGRESS IN_QUEUE PENDING }
  type GenerationLog { level: String! message: String! sequence: Int! timestamp: DateTime! }
  type VideoGeneration { id: ID! status: VideoGenerationStatus! queuePosition: Int }
  interface VideoGenerationEvent { generation: VideoGeneration! sequence: Int! }
  type VideoGenerationLogEvent implements VideoGenerationEvent { generation: VideoGeneration! log: GenerationLog! sequence: Int! }
  type VideoGenerationStatusEvent implements VideoGenerationEvent { generation: VideoGeneration! queuePosition: Int sequence: Int! status: VideoGenerationStatus! }
  type Query { videoGeneration(id: ID!): VideoGeneration }
  type Subscription { videoGenerationEvents(id: ID!, afterSequence: Int): VideoGenerationEvent! }
`;

export type PeerEvent =
  | { kind: 'STATUS'; sequence: number; status: string; queuePosition: number | null }
  | { kind: 'LOG'; sequence: number; log: { sequence: number; message: string; level: string; timestamp: string } };

export interface PeerGeneration {
  id: string;
  status: string;
  queuePosition: number | null;
  sequence: number;
  last: PeerEvent | null;
  events: EventEmitter;
}

export const generations = new Map<string, PeerGeneration>();
let counter = 0;

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
export const isTerminal = (event: PeerEvent) => event.kind === 'STATUS' && TERMINAL.has(event.status);

/** The same object for every subscriber: what reelgraph's `generation { id status }` selection resolves to. */
export const generationView = (g: PeerGeneration) => ({ id: g.id, status: g.status, queuePosition: g.queuePosition });

/** Submits one generation to the simulator and follows its status stream; events are emitted on g.events. */
export async function submitGeneration(): Promise<PeerGeneration> {
  const response = await fetch(`${SIM_URL}/${ENDPOINT}`, {
    method: 'POST',
    headers: { authorization: `Key ${FAL_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ image_url: 'https://example.com/a.png', prompt: 'bench' }),
  });
  if (!response.ok) throw new Error(`submit failed: ${response.status} ${await response.text()}`);
  const { request_id: requestId } = (await response.json()) as { request_id: string };
  const g: PeerGeneration = {
    id: `g${++counter}`,
    status: 'PENDING',
    queuePosition: null,
    sequence: 0,
    last: null,
    events: new EventEmitter().setMaxListeners(0),
  };
  generations.set(g.id, g);
  emit(g, { kind: 'STATUS', sequence: 0, status: 'PENDING', queuePosition: null });
  void follow(g, requestId);
  return g;
}

function emit(g: PeerGeneration, event: PeerEvent) {
  g.sequence += 1;
  event.sequence = g.sequence;
  if (event.kind === 'LOG') event.log.sequence = g.sequence;
  else {
    g.status = event.status;
    g.queuePosition = event.queuePosition;
  }
  g.last = event;
  g.events.emit('event', event);
}

async function follow(g: PeerGeneration, requestId: string) {
  const response = await fetch(`${SIM_URL}/fal-ai/kling-video/requests/${requestId}/status/stream?logs=1`, {
    headers: { authorization: `Key ${FAL_KEY}`, accept: 'text/event-stream' },
  });
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!block.startsWith('data: ')) continue;
      const body = JSON.parse(block.slice(6)) as {
        status: string;
        queue_position?: number;
        logs?: Array<{ message: string; level: string; timestamp: string }> | null;
      };
      const queuePosition = body.status === 'IN_QUEUE' ? (body.queue_position ?? null) : null;
      const status = body.status === 'COMPLETED' ? 'COMPLETED' : body.status;
      // Log lines first (they happened before the state that carries them ends), then a status change.
      for (const line of body.logs ?? []) {
        emit(g, {
          kind: 'LOG',
          sequence: 0,
          log: { sequence: 0, message: line.message, level: line.level, timestamp: new Date(`${line.timestamp}Z`).toISOString() },
        });
      }
      if (status !== g.status || queuePosition !== g.queuePosition) emit(g, { kind: 'STATUS', sequence: 0, status, queuePosition });
    }
  }
}

/** `POST /submit?count=N` → `{ ids: [...] }`: how the benchmark creates generations on a peer. */
export async function handleSubmit(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (!req.url?.startsWith('/submit')) return false;
  const count = Number(new URL(req.url, 'http://x').searchParams.get('count') ?? 1);
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) ids.push((await submitGeneration()).id);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ids }));
  return true;
}

/**
 * One subscriber's async iterator over a generation: the current state first (so the client knows it is
 * subscribed), then live events, ending after the terminal status. What a GraphQL peer's resolver returns.
 */
export function eventIterator(g: PeerGeneration): AsyncIterableIterator<PeerEvent> {
  const queue: PeerEvent[] = g.last ? [g.last] : [];
  let wake: (() => void) | null = null;
  let done = false;
  const listener = (event: PeerEvent) => {
    queue.push(event);
    wake?.();
  };
  g.events.on('event', listener);
  const finish = () => {
    done = true;
    g.events.off('event', listener);
    wake?.();
  };
  const iterator: AsyncIterableIterator<PeerEvent> = {
    async next() {
      for (;;) {
        const event = queue.shift();
        if (event) {
          if (isTerminal(event)) finish();
          return { value: event, done: false };
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
    return() {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    throw(error: unknown) {
      finish();
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

export const eventType = (event: PeerEvent) => (event.kind === 'STATUS' ? 'VideoGenerationStatusEvent' : 'VideoGenerationLogEvent');

/** Resolvers for the shared SDL, the same in Mercurius and Apollo. */
export const resolvers = {
  Query: {
    videoGeneration: (_: unknown, args: { id: string }) => {
      const g = generations.get(args.id);
      return g ? generationView(g) : null;
    },
  },
  Subscription: {
    videoGenerationEvents: {
      subscribe: (_: unknown, args: { id: string }) => {
        const g = generations.get(args.id);
        if (!g) throw new Error('not found');
        return eventIterator(g);
      },
      resolve: (event: PeerEvent, args: { id: string }) => ({ ...event, generation: generationView(generations.get(args.id)!) }),
    },
  },
  VideoGenerationEvent: {
    __resolveType: eventType,
  },
};

export function printListening(port: number) {
  console.log(`listening on http://127.0.0.1:${port}/graphql`);
}
