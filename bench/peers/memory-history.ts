/**
 * M6's reference: the same `videoGenerations(first: 50)` page and cursor format as reelgraph, served by
 * graphql-yoga from an in-memory array of BENCH_M6_ROWS generations (newest first) instead of the database.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { printListening } from './common.ts';

const ROWS = Number(process.env.BENCH_M6_ROWS ?? 100_000);
const now = Date.now();
const rows = Array.from({ length: ROWS }, (_, i) => ({
  id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
  prompt: `prompt ${i}`,
  status: 'COMPLETED',
  createdAt: new Date(now - i * 1000),
}));
const cursorOf = (i: number) => Buffer.from(`c:${i}`).toString('base64');

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    scalar DateTime
    enum VideoGenerationStatus { CANCELLED COMPLETED FAILED IN_PROGRESS IN_QUEUE PENDING }
    type VideoGeneration { id: ID! prompt: String status: VideoGenerationStatus! createdAt: DateTime! }
    type VideoGenerationEdge { cursor: String! node: VideoGeneration! }
    type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! endCursor: String startCursor: String }
    type VideoGenerationConnection { edges: [VideoGenerationEdge!]! pageInfo: PageInfo! }
    type Query { videoGenerations(first: Int, after: String): VideoGenerationConnection! }
  `,
  resolvers: {
    DateTime: { serialize: (d: unknown) => (d as Date).toISOString() } as never,
    Query: {
      videoGenerations: (_: unknown, args: { first?: number; after?: string }) => {
        const start = args.after ? Number(Buffer.from(args.after, 'base64').toString().slice(2)) + 1 : 0;
        const first = Math.min(args.first ?? 20, 100);
        const page = rows.slice(start, start + first);
        return {
          edges: page.map((node, i) => ({ cursor: cursorOf(start + i), node })),
          pageInfo: {
            hasNextPage: start + first < rows.length,
            hasPreviousPage: start > 0,
            startCursor: cursorOf(start),
            endCursor: cursorOf(start + page.length - 1),
          },
        };
      },
    },
  },
});
const yoga = createYoga({ schema, graphqlEndpoint: '/graphql', landingPage: false, graphiql: false, logging: false });
const server = createServer((req, res) => void yoga(req, res));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => printListening((server.address() as AddressInfo).port));
