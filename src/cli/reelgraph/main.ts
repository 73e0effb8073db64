import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ServerError, UsageError, type Connection } from './api.ts';
import { displayMode, endpoint, one, OPTIONS, USAGE, type CliIo, type Values } from './args.ts';
import { cancel, generate, list, show, watch } from './commands.ts';
import { errorMessage } from '../../lib/errors.ts';

export type { CliIo } from './args.ts';

/** Runs one command; resolves with the process exit code. */
export async function run(io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: io.argv, options: OPTIONS, allowPositionals: true, strict: true }));
  } catch (error) {
    io.stderr.write(`reelgraph: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.version) {
    io.stdout.write(`reelgraph ${version()}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    (values.help ? io.stdout : io.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  const [command, ...args] = positionals;
  try {
    const connection: Connection = {
      url: endpoint(values.server ?? io.env.FAL_VIDEO_SERVER ?? 'http://localhost:4000/graphql'),
      apiKey: values['api-key'] ?? io.env.REELGRAPH_API_KEY ?? null,
    };
    const mode = displayMode(values, io.stdout);
    switch (command) {
      case 'generate':
        return await generate(connection, values, mode, io);
      case 'watch':
        return await watch(connection, one(args, 'watch <id>'), values, mode, io);
      case 'show':
        return await show(connection, one(args, 'show <id>'), values, io);
      case 'list':
        return await list(connection, values, io);
      case 'cancel':
        return await cancel(connection, one(args, 'cancel <id>'), values, io);
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (io.signal?.aborted) return 130;
    if (error instanceof UsageError) {
      io.stderr.write(`reelgraph: ${error.message}\n(see reelgraph --help)\n`);
      return 2;
    }
    if (error instanceof ServerError) {
      io.stderr.write(`reelgraph: ${error.message}\n`);
      return error.retryable ? 3 : 1;
    }
    io.stderr.write(`reelgraph: unexpected error: ${errorMessage(error)}\n`);
    return 1;
  }
}

/** package.json sits three levels up from both src/cli/reelgraph and dist/cli/reelgraph. */
function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

// Run as a program (the bin launcher imports this module and calls main()).
export async function main(): Promise<void> {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted')));
  const code = await run({
    argv: process.argv.slice(2),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
  });
  process.exitCode = code;
}

if (import.meta.main) await main();
