import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Hosts fal serves generated files from (shared/reference/fal-queue-protocol.md §5 and §8: outputs and
 * uploads are `https://v3b.fal.media/files/...`). The configured fal origins are added to these.
 */
export const FAL_OUTPUT_HOSTS = ['fal.media', '*.fal.media'];

/** A download the policy will not make: the archive fails at once, since retrying cannot change the answer. */
export class DownloadRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadRefusedError';
  }
}

/**
 * Addresses a download may never reach: loopback, private, carrier-grade NAT, link-local (cloud metadata at
 * 169.254.169.254 and fd00:ec2::254), documentation, multicast and reserved ranges, and IPv6 forms that embed
 * an IPv4 address (mapped, NAT64, 6to4, Teredo), whose IPv4 part could be any of those.
 */
// Two lists: a BlockList compares IPv4 addresses with IPv6 rules in their mapped form, so ::ffff:0:0/96
// would match every IPv4 address.
const NOT_PUBLIC_V4 = new BlockList();
const NOT_PUBLIC_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_PUBLIC_V4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 127],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  NOT_PUBLIC_V6.addSubnet(net, prefix, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !NOT_PUBLIC_V4.check(address, 'ipv4') : !NOT_PUBLIC_V6.check(address, 'ipv6');
}

/** `cdn.example.com` matches itself; `*.example.com` matches any name under example.com (not example.com itself). */
export function hostMatches(hostname: string, patterns: readonly string[]): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    return p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p;
  });
}

export interface DownloadPolicyOptions {
  /** Host patterns downloads may come from (public addresses only). */
  allowedHosts: readonly string[];
  /** Exact origins trusted as fal itself (the configured fal origins, the simulator): may be loopback or private. */
  falOrigins: readonly string[];
  /** Redirect hops followed, each checked like the first URL. */
  maxRedirects?: number;
}

export interface Downloader {
  /** Why `url` may not be downloaded, judged on its scheme and host only (no DNS); null when it may. */
  refusal(url: string): string | null;
  /** GETs `url` under the policy; rejects with DownloadRefusedError when the policy forbids a hop. */
  get(url: string, signal: AbortSignal): Promise<IncomingMessage>;
}

/**
 * Downloads only from the allow-list, never from a non-public address unless it is a configured fal origin.
 * The address check runs inside the socket's own DNS lookup, so the address that was checked is the one
 * connected to (a name that re-resolves to 127.0.0.1 between check and connect cannot slip through), and
 * every redirect hop is checked again.
 */
export function createDownloader(options: DownloadPolicyOptions): Downloader {
  const trusted = new Set(options.falOrigins.map((o) => new URL(o).origin));
  const allowedHosts = [...options.allowedHosts, ...options.falOrigins.map((o) => new URL(o).hostname)];
  const maxRedirects = options.maxRedirects ?? 5;

  function refusal(raw: string): string | null {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'the download URL is not a valid URL';
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return `refused to download from a ${url.protocol} URL`;
    if (trusted.has(url.origin)) return null;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!hostMatches(host, allowedHosts)) return `refused to download from ${url.host}: not a fal host or in ARCHIVE_ALLOWED_HOSTS`;
    if (isIP(host) && !isPublicAddress(host)) return `refused to download from ${url.host}: not a public address`;
    return null;
  }

  const checkedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const bad = addresses.find((a) => !isPublicAddress(a.address));
      if (bad || addresses.length === 0) {
        return callback(
          new DownloadRefusedError(
            `refused to download from ${hostname}: it resolves to ${bad?.address ?? 'nothing'}, not a public address`,
          ),
          '',
          0,
        );
      }
      if (lookupOptions.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  };

  function once(url: URL, signal: AbortSignal): Promise<IncomingMessage> {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method: 'GET', signal, ...(trusted.has(url.origin) ? {} : { lookup: checkedLookup }) }, resolve);
      req.on('error', reject);
      req.end();
    });
  }

  return {
    refusal,
    async get(raw, signal) {
      let current = raw;
      for (let hop = 0; ; hop += 1) {
        const why = refusal(current);
        if (why) throw new DownloadRefusedError(hop === 0 ? why : `${why} (redirected from ${new URL(raw).host})`);
        const response = await once(new URL(current), signal);
        const status = response.statusCode ?? 0;
        if (status < 300 || status >= 400 || !response.headers.location) return response;
        response.resume();
        if (hop >= maxRedirects) throw new DownloadRefusedError(`refused to follow more than ${maxRedirects} redirects`);
        current = new URL(response.headers.location, current).toString();
      }
    },
  };
}
