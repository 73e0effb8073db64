import { createApiKey } from '../../src/auth/keys.ts';
import type { TestServer } from './app.ts';
import { bearer, collect, gql, wsClient } from './graphql.ts';
import { IMAGE } from './generation.ts';
import { registerSecret } from './secrets.ts';

export interface Tenants {
  /** API keys: two tenants and an admin (whose own tenant is `ops`). */
  acme: string;
  globex: string;
  admin: string;
}

/** Creates the keys straight in the server's database (the CLI is tested on its own). */
export async function createTenants(server: TestServer): Promise<Tenants> {
  const db = server.running.database.prisma;
  const [acme, globex, admin] = await Promise.all([
    createApiKey(db, { tenantId: 'acme', name: 'test' }),
    createApiKey(db, { tenantId: 'globex', name: 'test' }),
    createApiKey(db, { tenantId: 'ops', name: 'admin', scope: 'ADMIN' }),
  ]);
  return { acme: registerSecret(acme.key), globex: registerSecret(globex.key), admin: registerSecret(admin.key) };
}

export const GENERATE_AS = /* GraphQL */ `
  mutation Generate($input: GenerateVideoInput!) {
    generateVideo(input: $input) {
      __typename
      ... on GenerateVideoSuccess { generation { id status estimatedCost } }
      ... on Error { message }
      ... on QuotaExceededError { quota limit current requested }
      ... on RateLimitedError { retryAfterSeconds }
    }
  }
`;

export async function generateAs(server: TestServer, key: string, input: Record<string, unknown> = {}) {
  const result = await gql(server.url, GENERATE_AS, { input: { imageUrl: IMAGE, prompt: 'a cat walks', ...input } }, bearer(key));
  if (result.errors) throw new Error(`generateVideo failed: ${JSON.stringify(result.errors)}`);
  return result.data.generateVideo;
}

/** Submits as `key` and waits (over graphql-ws, as that tenant) until the video is archived on this server. */
export async function generateArchived(server: TestServer, key: string): Promise<string> {
  const client = wsClient(server.url, key);
  try {
    let id = '';
    const updates = collect(client, 'subscription { videoGenerationUpdated { id status video { archiveStatus } } }');
    // Open the socket (a query round trip) before submitting. The awaited update, ARCHIVED, comes after the
    // generation completes and its video is copied, long after the subscription is in place; earlier
    // updates may be missed without harm.
    await new Promise<void>((resolve, reject) =>
      client.subscribe({ query: '{ serverInfo { version } }' }, { next: () => {}, error: reject, complete: resolve }),
    );
    const created = await generateAs(server, key);
    if (created.__typename !== 'GenerateVideoSuccess') throw new Error(`generateVideo: ${created.__typename}`);
    id = created.generation.id;
    await updates.waitUntil((all) =>
      all.some((p) => p.data?.videoGenerationUpdated.id === id && p.data.videoGenerationUpdated.video?.archiveStatus === 'ARCHIVED'),
    );
    updates.cancel();
    return id;
  } finally {
    await client.dispose();
  }
}
