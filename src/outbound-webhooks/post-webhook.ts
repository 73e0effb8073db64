import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { errorMessage } from '../lib/errors.ts';
import type { CheckedTarget } from './url-policy.ts';

export interface PostResult {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** The stop signal ended it: no answer either way, nothing to record. */
  aborted: boolean;
}

/**
 * POSTs one signed message. Headers per the Standard Webhooks spec: webhook-id (the delivery id, the same on
 * every retry), webhook-timestamp (Unix seconds) and webhook-signature (`v1,<base64 HMAC-SHA256>` of
 * `<id>.<timestamp>.<body>` keyed with the base64-decoded part of the secret after `whsec_`, computed by the
 * `standardwebhooks` package). Connects to the address that was checked (a pinned lookup: DNS cannot swap it
 * for another between check and connect) and never follows a redirect: a 3xx is a failure.
 */
export async function postWebhook(input: {
  target: CheckedTarget;
  messageId: string;
  secret: string;
  body: string;
  timeoutMs: number;
  signal: AbortSignal;
}): Promise<PostResult> {
  const timestamp = new Date(Math.floor(Date.now() / 1000) * 1000);
  const signature = new Webhook(input.secret).sign(input.messageId, timestamp, input.body);
  const { url, address, family } = input.target;
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const timeout = AbortSignal.timeout(input.timeoutMs);
  const signal = AbortSignal.any([timeout, input.signal]);
  const options: RequestOptions = {
    method: 'POST',
    signal,
    lookup: pinned,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(input.body),
      'user-agent': 'reelgraph-webhooks',
      'webhook-id': input.messageId,
      'webhook-timestamp': String(timestamp.getTime() / 1000),
      'webhook-signature': signature,
    },
  };
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostResult>((resolve) => {
    const finish = (result: Omit<PostResult, 'durationMs' | 'aborted'>) =>
      resolve({ ...result, durationMs: elapsed(), aborted: input.signal.aborted && !timeout.aborted });
    const req = send(url, options, (response) => {
      const statusCode = response.statusCode ?? 0;
      // The answer is the status; the body is read (and dropped) so the connection ends cleanly.
      response.resume();
      response.on('error', () => undefined);
      if (statusCode >= 200 && statusCode < 300) return finish({ delivered: true, statusCode, error: null });
      finish({
        delivered: false,
        statusCode,
        error: statusCode >= 300 && statusCode < 400 ? `HTTP ${statusCode}: redirects are not followed` : `HTTP ${statusCode}`,
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (timeout.aborted) return finish({ delivered: false, statusCode: null, error: `no answer within ${input.timeoutMs} ms` });
      finish({ delivered: false, statusCode: null, error: error.code ? `${error.code}: ${errorMessage(error)}` : errorMessage(error) });
    });
    req.end(input.body);
  });
}
