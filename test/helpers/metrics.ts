import { expect } from 'vitest';
import type { TestServer } from './app.ts';

/** A Prometheus text exposition, one sample per line: `name{label="value",...} 12`. */
export interface Scrape {
  text: string;
  /** The sample's value, or undefined when the series is not exported. Labels must match exactly. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Every sample of a metric name, with its labels. */
  samples(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

export function parseScrape(text: string): Scrape {
  const all: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    all.push({ name: match[1], labels, value: Number(match[3]) });
  }
  const same = (a: Record<string, string>, b: Record<string, string>) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    text,
    value: (name, labels = {}) => all.find((s) => s.name === name && same(s.labels, labels))?.value,
    samples: (name) => all.filter((s) => s.name === name).map(({ labels, value }) => ({ labels, value })),
  };
}

/** The server's origin on 127.0.0.1 (tests only ever send traffic to loopback, whatever the bind). */
export const loopbackOrigin = (server: TestServer) => `http://127.0.0.1:${server.running.port}`;

/** GET /metrics, which must answer 200 in Prometheus' text format. */
export async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${loopbackOrigin(server)}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseScrape(await response.text());
}
