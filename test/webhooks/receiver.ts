import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  json: { type: string; timestamp: string; data: Record<string, any> };
  /** What this receiver answered. */
  answered: number;
}

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedWebhook[];
  /** Resolves once the requests so far satisfy the predicate (checked on every request). */
  waitFor(predicate: (requests: ReceivedWebhook[]) => boolean): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

/**
 * A webhook receiver on port 0 (127.0.0.1) that records every request and answers `answer(n)` for the n-th one
 * (0-based; 200 by default).
 */
export async function startReceiver(answer: (index: number, request: ReceivedWebhook) => number = () => 200, port = 0): Promise<Receiver> {
  const requests: ReceivedWebhook[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const received: ReceivedWebhook = { headers: req.headers, body, json: JSON.parse(body), answered: 0 };
      received.answered = answer(requests.length, received);
      requests.push(received);
      res.writeHead(received.answered, received.answered >= 300 && received.answered < 400 ? { location: 'http://127.0.0.1:1/' } : {});
      res.end();
      for (const waiter of waiters) waiter();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/hooks`,
    port: bound,
    requests,
    waitFor: (predicate) =>
      new Promise((resolve) => {
        const waiter = () => {
          if (!predicate(requests)) return;
          waiters.delete(waiter);
          resolve(requests);
        };
        waiters.add(waiter);
        waiter();
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Verifies a request's signature with the `standardwebhooks` package (not our own code); throws if it fails. */
export function verify(secret: string, request: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(request.body, {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  });
}

export const CREATE_ENDPOINT = /* GraphQL */ `
  mutation Create($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) {
      __typename
      ... on CreateWebhookEndpointSuccess { secret endpoint { id url events description createdAt } }
      ... on InputValidationError { message fieldErrors { path message } }
      ... on Error { message }
    }
  }
`;

export const ENDPOINTS = /* GraphQL */ `
  query Endpoints {
    webhookEndpoints(first: 20) { edges { node { id url events description createdAt } } }
  }
`;

/** An endpoint's deliveries, newest first. */
export const DELIVERIES = /* GraphQL */ `
  query Deliveries($id: ID!) {
    node(id: $id) {
      ... on WebhookEndpoint {
        deliveries(first: 20) {
          edges { node { id eventType status attempts lastStatusCode lastError nextAttemptAt deliveredAt createdAt generation { id } } }
        }
      }
    }
  }
`;
