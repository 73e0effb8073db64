/**
 * Peer (c): Apollo Server for queries over HTTP and graphql-ws for subscriptions on the same port, the set-up
 * Apollo documents (makeExecutableSchema, WebSocketServer, useServer, a drain plugin).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { handleSubmit, printListening, resolvers, SDL } from './common.ts';

const schema = makeExecutableSchema({ typeDefs: SDL, resolvers: resolvers as never });
const httpServer = createServer((req, res) => {
  void (async () => {
    if (await handleSubmit(req, res)) return;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const url = new URL(req.url ?? '/', 'http://x');
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: req.method ?? 'GET',
        headers,
        search: url.search,
        body: chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined,
      },
      context: () => Promise.resolve({}),
    });
    for (const [k, v] of result.headers) res.setHeader(k, v);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') res.end(result.body.string);
    else {
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    }
  })();
});
const wss = new WebSocketServer({ server: httpServer, path: '/graphql', perMessageDeflate: false });
const cleanup = useServer({ schema }, wss);
const apollo = new ApolloServer({
  schema,
  plugins: [
    ApolloServerPluginDrainHttpServer({ httpServer }),
    {
      serverWillStart() {
        return Promise.resolve({
          async drainServer() {
            await cleanup.dispose();
          },
        });
      },
    },
  ],
});
await apollo.start();
httpServer.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => printListening((httpServer.address() as AddressInfo).port));
