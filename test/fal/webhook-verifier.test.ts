import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookSigner } from '../../src/fal/simulator/webhooks.ts';
import { createWebhookVerifier } from '../../src/fal/webhook-verifier.ts';

let jwksServer: Server | null = null;
afterEach(() => {
  jwksServer?.close();
  jwksServer = null;
});

/** A JWKS endpoint whose key set the test can rotate, counting how often it is fetched. */
async function serveJwks(initial: object) {
  let keys = initial;
  let fetches = 0;
  jwksServer = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys));
  });
  jwksServer.listen(0, '127.0.0.1');
  await once(jwksServer, 'listening');
  return {
    url: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`,
    rotate: (next: object) => (keys = next),
    fetches: () => fetches,
  };
}

const body = '{"request_id": "r-1", "status": "OK"}';
const bytes = new TextEncoder().encode(body);

describe('fal webhook verifier (protocol §7.3)', () => {
  it('caches the JWKS, and refreshes it once when a delivery is signed by a key it does not know yet', async () => {
    const oldKey = createWebhookSigner();
    const newKey = createWebhookSigner();
    const jwks = await serveJwks(oldKey.jwks);
    let now = Date.now();
    const verifier = createWebhookVerifier({ jwksUrl: jwks.url, toleranceSeconds: 300, refreshCooldownMs: 60_000, now: () => now });

    for (let i = 0; i < 3; i += 1) {
      expect(await verifier.verify(new Headers(oldKey.headers(body, 'r-1', Math.floor(now / 1000))), bytes)).toEqual({
        ok: true,
        requestId: 'r-1',
      });
    }
    expect(jwks.fetches()).toBe(1);

    // fal rotates its key: the first delivery signed with the new key triggers one refresh and passes.
    jwks.rotate(newKey.jwks);
    now += 61_000;
    expect(await verifier.verify(new Headers(newKey.headers(body, 'r-1', Math.floor(now / 1000))), bytes)).toEqual({
      ok: true,
      requestId: 'r-1',
    });
    expect(jwks.fetches()).toBe(2);

    // A forger's unknown key does not make us refetch on every request (cool-down).
    const forger = createWebhookSigner();
    for (let i = 0; i < 5; i += 1) {
      expect((await verifier.verify(new Headers(forger.headers(body, 'r-1', Math.floor(now / 1000))), bytes)).ok).toBe(false);
    }
    expect(jwks.fetches()).toBe(2);
  });

  it('rejects a stale timestamp before looking at keys, and says why without echoing anything', async () => {
    const signer = createWebhookSigner();
    const jwks = await serveJwks(signer.jwks);
    const verifier = createWebhookVerifier({ jwksUrl: jwks.url, toleranceSeconds: 300 });
    const stale = await verifier.verify(new Headers(signer.headers(body, 'r-1', Math.floor(Date.now() / 1000) - 600)), bytes);
    expect(stale).toEqual({ ok: false, reason: 'webhook timestamp is outside the allowed window' });
    expect(jwks.fetches()).toBe(0);
  });

  it('fails closed when the JWKS cannot be fetched', async () => {
    const signer = createWebhookSigner();
    const verifier = createWebhookVerifier({ jwksUrl: 'http://127.0.0.1:9/none', toleranceSeconds: 300 });
    const verdict = await verifier.verify(new Headers(signer.headers(body, 'r-1')), bytes);
    expect(verdict).toEqual({ ok: false, reason: 'webhook signing keys are unavailable' });
  });
});
