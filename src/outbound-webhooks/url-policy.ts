import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isPublicAddress } from '../archive/download-policy.ts';

/** A URL that passed the policy, with the address it was checked at: the request must connect to exactly that one. */
export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

export type UrlCheck = { ok: true; target: CheckedTarget } | { ok: false; reason: string };

const MAX_URL_LENGTH = 2048;

/** Why the URL cannot be an endpoint on its form alone (no DNS); null when its form is fine. */
export function urlFormProblem(raw: string): string | null {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  // Credentials in the URL would be stored and shown in lists; receivers authenticate us by the signature.
  if (url.username || url.password) return 'must not contain a user name or password';
  return null;
}

/**
 * Resolves the URL's host and applies the SSRF policy: unless private URLs are allowed, every address the name
 * resolves to must be public (not loopback, private, CGNAT, link-local, metadata, or an IPv6 form embedding
 * one: the list in archive/download-policy.ts). Run at registration and again before every attempt, since
 * DNS may change in between.
 */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<UrlCheck> {
  const problem = urlFormProblem(raw);
  if (problem) return { ok: false, reason: problem };
  const url = new URL(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch {
      return { ok: false, reason: `the host ${host} could not be resolved` };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `the host ${host} could not be resolved` };
  if (!allowPrivate) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) return { ok: false, reason: `the host ${host} resolves to ${bad.address}, which is not a public address` };
  }
  return { ok: true, target: { url, address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 } };
}
