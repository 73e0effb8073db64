import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Authenticator, Identity } from '../auth/authenticator.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ConnectionRegistry } from './connections.ts';
import { isPublicQuery, PUBLIC_IDENTITY, publicQueryOf } from '../auth/public-operations.ts';
import { refusalResponse } from './refusals.ts';

/**
 * Who a GraphQL operation runs as, and how it may add response headers (a no-op on WebSockets). Every transport
 * puts one in the initial context, and the one contextFactory (context.ts) builds the GraphQL context from it.
 */
export interface Connection {
  identity: Identity;
  setHeader(name: string, value: string): void;
}

/** What the edge hands Yoga's envelop pipeline as the initial context, over HTTP, SSE and graphql-ws alike. */
export interface EdgeContext {
  /**
   * The Node request's headers (for WebSockets, the upgrade request's Host only: graphql-ws.ts keeps no more of
   * it for an open socket): they carry the Host header the client used.
   */
  req: { headers: Pick<IncomingMessage['headers'], 'host'> };
  /** Set by authentication before anything parses or executes. */
  connection?: Connection;
}

export interface AuthenticationOptions {
  auth: Authenticator;
  registry: ConnectionRegistry;
  graphqlPath: string;
  /** True for a request GraphiQL's page answers: the page holds no data, so it needs no key. */
  servesPage: (request: Request) => boolean;
  metrics?: Pick<Metrics, 'subscriptionOpened'>;
}

/**
 * API-key authentication as a Yoga plugin. HTTP and SSE requests are authenticated in onRequest, before their
 * body is read; a graphql-ws socket once, at connection_init (authenticateSocket below, called by graphql-ws.ts).
 * Either way the identity lands in the initial context as `connection`, and the one contextFactory (context.ts)
 * refuses any operation without one, so no transport can reach a resolver unauthenticated.
 */
export function useAuthentication(options: AuthenticationOptions): Plugin<EdgeContext> {
  const { auth, registry } = options;
  return {
    async onRequest(payload) {
      const { request, url, serverContext } = payload;
      if (url.pathname !== options.graphqlPath || options.servesPage(request)) return;
      const { req, res } = serverContext as unknown as { req: IncomingMessage; res: ServerResponse };
      const outcome = await auth.authenticate(request.headers.get('authorization'));
      let identity: Identity;
      if (outcome.ok) identity = outcome.identity;
      // Without a key, a GET of public fields only (serverInfo) still runs: see src/auth/public-operations.ts.
      else if (outcome.reason === 'missing' && isPublicQuery(publicQueryOf(request.method, request.url))) identity = PUBLIC_IDENTITY;
      else {
        // The body is never read: let it flow to nowhere so the connection can carry the 401.
        req.resume();
        return payload.endResponse(
          refusalResponse(401, outcome.message, {
            'www-authenticate': `Bearer realm="reelgraph"${outcome.reason === 'invalid' ? ', error="invalid_token"' : ''}`,
          }),
        );
      }
      const connection: Connection = {
        identity,
        setHeader: (name, value) => void (!res.headersSent && res.setHeader(name, value)),
      };
      (serverContext as unknown as EdgeContext).connection = connection;
      // Every GraphQL response lives only as long as its key, however its stream was negotiated.
      res.on(
        'close',
        registry.holdKey(identity.keyId, () => res.end()),
      );
      // Counted as an SSE subscription when the client asked for an event stream (every SSE client library does).
      if (options.metrics && /text\/event-stream/i.test(request.headers.get('accept') ?? ''))
        res.on('close', options.metrics.subscriptionOpened('sse'));
    },
  };
}

/**
 * Authenticates a graphql-ws socket at connection_init: connectionParams.authorization (or Authorization), else
 * the upgrade request's Authorization header (`authorization`). The socket then holds its key until `release`; `end` is called
 * if the key is revoked meanwhile. Null when refused.
 */
export async function authenticateSocket(
  options: Pick<AuthenticationOptions, 'auth' | 'registry'>,
  params: Record<string, unknown> | undefined,
  authorization: string | undefined,
  end: () => void,
): Promise<{ identity: Identity; release: () => void } | null> {
  const given = [params?.authorization, params?.Authorization].find((value): value is string => typeof value === 'string');
  const outcome = await options.auth.authenticate(given ?? authorization);
  if (!outcome.ok) return null;
  return { identity: outcome.identity, release: options.registry.holdKey(outcome.identity.keyId, end) };
}
