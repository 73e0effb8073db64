/**
 * Peer (a): a raw `ws` broadcaster, the practical ceiling. It speaks just enough graphql-transport-ws for the
 * benchmark's client (ack the init, read the generation id from the subscribe message's variables) and
 * executes no GraphQL: each event is serialised once, into the exact frame a GraphQL server would send for
 * the benchmark's document, and the same string is written to every socket.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { generations, generationView, handleSubmit, isTerminal, printListening, type PeerEvent, type PeerGeneration } from './common.ts';

const server = createServer((req, res) => {
  void handleSubmit(req, res).then((handled) => {
    if (!handled) res.writeHead(404).end();
  });
});
const wss = new WebSocketServer({ server, path: '/graphql', perMessageDeflate: false });
const rooms = new Map<string, Set<WebSocket>>();

const frame = (g: PeerGeneration, event: PeerEvent) => {
  const data =
    event.kind === 'LOG'
      ? {
          __typename: 'VideoGenerationLogEvent',
          sequence: event.sequence,
          log: { message: event.log.message, timestamp: event.log.timestamp },
          generation: generationView(g),
        }
      : {
          __typename: 'VideoGenerationStatusEvent',
          sequence: event.sequence,
          status: event.status,
          queuePosition: event.queuePosition,
          generation: generationView(g),
        };
  return JSON.stringify({ id: '1', type: 'next', payload: { data: { videoGenerationEvents: data } } });
};

function join(g: PeerGeneration) {
  let room = rooms.get(g.id);
  if (room) return room;
  room = new Set();
  rooms.set(g.id, room);
  const members = room;
  g.events.on('event', (event: PeerEvent) => {
    const text = frame(g, event);
    for (const socket of members) socket.send(text);
    if (isTerminal(event)) {
      const done = JSON.stringify({ id: '1', type: 'complete' });
      for (const socket of members) socket.send(done);
      members.clear();
    }
  });
  return room;
}

wss.on('connection', (socket) => {
  let room: Set<WebSocket> | null = null;
  socket.on('message', (data) => {
    const message = JSON.parse((data as Buffer).toString('utf8')) as { type: string; payload?: { variables?: { id?: string } } };
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') socket.send('{"type":"pong"}');
    else if (message.type === 'subscribe') {
      const g = generations.get(message.payload?.variables?.id ?? '');
      if (!g) return socket.send(JSON.stringify({ id: '1', type: 'error', payload: [{ message: 'not found' }] }));
      room = join(g);
      room.add(socket);
      if (g.last) socket.send(frame(g, g.last));
    } else if (message.type === 'complete') room?.delete(socket);
  });
  socket.on('close', () => room?.delete(socket));
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => printListening((server.address() as AddressInfo).port));
