import { parseArgs } from 'node:util';
import { UsageError } from './api.ts';
import type { DisplayMode, Output } from './display.ts';
import { closest } from './suggest.ts';

/** The command line: usage text, options, and the small parsers the commands share. */

export const USAGE = `reelgraph: command-line client for a reelgraph server

Usage:
  reelgraph generate (--image <file> | --image-url <url>) [--end-image <file> | --end-image-url <url>]
                     (--prompt <text> | --shot [<seconds>:]<text> ...) [--duration <s>] [--audio]
                     [--out <file>] [--no-download] [--detach] [--idempotency-key <key>]
  reelgraph watch <id> [--out <file>] [--after <sequence>]
  reelgraph show <id>
  reelgraph list [--search <words>] [--status <STATUS>]... [--since <when>] [--first <n>]
  reelgraph cancel <id>

Options of list:
  --search <words>         full text over the prompt and the shot prompts: all the words, "a phrase",
                           a or b, -word (whole words, any case)
  --status <STATUS>        PENDING, IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED or CANCELLED (repeatable)
  --since <when>           created since: an ISO date or time (2026-12-01, 2026-12-01T09:30Z; no zone means
                           local time), or a time ago: a number and s, m, h, d or w (90m, 2h, 3d, 1w)
  --first <n>              how many, newest first (default 20)

Options for every command:
  --server <url>           GraphQL endpoint (env REELGRAPH_SERVER; default http://localhost:4000/graphql)
  --api-key <key>          API key, sent as a Bearer token (env REELGRAPH_API_KEY); never printed
  --json                   one JSON object per line on stdout
  --display <mode>         auto (default), tty (live progress bar), plain (one line per event) or json
  --reconnect-timeout <s>  give up after the server has been unreachable this long (default 300)
  -h, --help               this help
  --version                the CLI's version

Progress and ETA are estimated by the server from its recent history (shown once it has some).
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
  search: { type: 'string' },
  since: { type: 'string' },
  first: { type: 'string' },
  'reconnect-timeout': { type: 'string' },
} as const;

export const COMMANDS = ['generate', 'watch', 'show', 'list', 'cancel'] as const;

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

/**
 * The environment variables follow one scheme, REELGRAPH_ and the option's name (--server: REELGRAPH_SERVER).
 * Names from before the scheme still work, with a note on stderr.
 */
const DEPRECATED_ENV: Record<string, string> = { FAL_VIDEO_SERVER: 'REELGRAPH_SERVER' };

export function fromEnv(env: CliIo['env'], name: 'REELGRAPH_SERVER' | 'REELGRAPH_API_KEY', stderr: Output): string | undefined {
  if (env[name] !== undefined && env[name] !== '') return env[name];
  for (const [old, current] of Object.entries(DEPRECATED_ENV)) {
    if (current !== name || env[old] === undefined || env[old] === '') continue;
    stderr.write(`reelgraph: ${old} is deprecated and will be removed; set ${current} instead\n`);
    return env[old];
  }
  return undefined;
}

/** A parseArgs failure as a message in our style, with a suggestion for a mistyped option. */
export function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /Unknown option '([^']+)'/.exec(message ?? '') : null;
  if (unknown) {
    const typed = unknown[1];
    const near = typed.startsWith('--') ? closest(typed.slice(2).split('=')[0], Object.keys(OPTIONS)) : null;
    return `unknown option ${typed}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  const text = message ?? String(error);
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** `--since`: an ISO 8601 date or date-time, or a duration before `now` (90m, 2h, 3d, 1w). */
export function since(value: string | undefined, now = Date.now()): Date | undefined {
  if (value === undefined) return undefined;
  const relative = /^(\d+)\s*(s|m|h|d|w)$/i.exec(value.trim());
  if (relative) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[relative[2].toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
    return new Date(now - Number(relative[1]) * unit * 1000);
  }
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(value.trim())
    ? new Date(value.trim())
    : null;
  if (!at || Number.isNaN(at.getTime()))
    throw new UsageError(
      `--since must be an ISO date or time (2026-12-01, 2026-12-01T09:30Z) or a time ago (90m, 2h, 3d, 1w), got "${value}"`,
    );
  return at;
}

/** An unknown command, with the nearest real one. */
export function unknownCommand(command: string): UsageError {
  const near = closest(command, COMMANDS);
  return new UsageError(`unknown command "${command}"${near ? ` (did you mean "${near}"?)` : ''}`);
}
