/**
 * Peer (b): Mercurius on fastify, the same subscription SDL, subscriptions over graphql-transport-ws
 * (Mercurius picks the protocol from the client's Sec-WebSocket-Protocol header).
 */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import { eventType, handleSubmit, printListening, resolvers, SDL } from './common.ts';

const app = Fastify({ logger: false });
app.post('/submit', async (request, reply) => {
  reply.hijack();
  await handleSubmit(request.raw, reply.raw);
});
await app.register(mercurius, {
  schema: SDL,
  // Mercurius reads an interface's resolveType (graphql-tools reads __resolveType).
  resolvers: { ...resolvers, VideoGenerationEvent: { resolveType: eventType } } as never,
  subscription: true,
  graphiql: false,
  path: '/graphql',
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
printListening((app.server.address() as { port: number }).port);
