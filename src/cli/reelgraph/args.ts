import { parseArgs } from 'node:util';
import { UsageError } from './api.ts';
import type { DisplayMode, Output } from './display.ts';

/** The command line: usage text, options, and the small parsers the commands share. */

export const USAGE = `reelgraph: command-line client for a reelgraph server

Usage:
  reelgraph generate (--image <file> | --image-url <url>) [--end-image <file> | --end-image-url <url>]
                     (--prompt <text> | --shot [<seconds>:]<text> ...) [--duration <s>] [--audio]
                     [--out <file>] [--no-download] [--detach] [--idempotency-key <key>]
  reelgraph watch <id> [--out <file>] [--after <sequence>]
  reelgraph show <id>
  reelgraph list [--status <STATUS>]... [--first <n>]
  reelgraph cancel <id>

Options for every command:
  --server <url>           GraphQL endpoint (env FAL_VIDEO_SERVER; default http://localhost:4000/graphql)
  --api-key <key>          API key, sent as a Bearer token (env REELGRAPH_API_KEY); never printed
  --json                   one JSON object per line on stdout
  --display <mode>         auto (default), tty (live progress), plain (one line per event) or json
  --reconnect-timeout <s>  give up after the server has been unreachable this long (default 300)
  -h, --help               this help
  --version                the CLI's version

Exit codes: 0 done, 1 the generation failed or was cancelled, or the server refused the request,
2 wrong usage, 3 the server could not be reached, 130 interrupted.
`;

export const OPTIONS = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  display: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  image: { type: 'string' },
  'image-url': { type: 'string' },
  'end-image': { type: 'string' },
  'end-image-url': { type: 'string' },
  prompt: { type: 'string' },
  shot: { type: 'string', multiple: true },
  duration: { type: 'string' },
  audio: { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  'no-download': { type: 'boolean' },
  detach: { type: 'boolean' },
  'idempotency-key': { type: 'string' },
  after: { type: 'string' },
  status: { type: 'string', multiple: true },
  first: { type: 'string' },
  'reconnect-timeout': { type: 'string' },
} as const;

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export interface CliIo {
  argv: string[];
  env: Record<string, string | undefined>;
  stdout: Output & { isTTY?: boolean; columns?: number };
  stderr: Output;
  signal?: AbortSignal;
}

export function endpoint(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server must be a URL, got "${server}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--server must be an http(s) URL');
  // A bare origin means the server's usual endpoint.
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  return url.toString();
}

export function displayMode(values: Values, stdout: CliIo['stdout']): DisplayMode {
  if (values.json) return 'json';
  const asked = values.display ?? 'auto';
  if (asked === 'auto') return stdout.isTTY ? 'tty' : 'plain';
  if (asked === 'tty' || asked === 'plain' || asked === 'json') return asked;
  throw new UsageError('--display must be auto, tty, plain or json');
}

export function one(args: string[], usage: string): string {
  if (args.length !== 1) throw new UsageError(`usage: reelgraph ${usage}`);
  return args[0];
}

export function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number`);
  return Number(value);
}
