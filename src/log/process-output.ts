import { errorSummary } from '../lib/errors.ts';
import { format } from 'node:util';
import type { Logger } from '../logger.ts';

/**
 * Sends what the process would otherwise print by itself through the logger, so that with LOG_FORMAT=json every
 * line it writes is JSON: Node's process warnings (deprecations, MaxListenersExceeded, experimental features),
 * anything a dependency writes with console.* (Prisma's and PGlite's notices), and a crash. Only the server's
 * entry point calls this; it returns a function that puts everything back.
 */
export function routeProcessOutput(logger: Logger): () => void {
  // Node prints warnings through a 'warning' listener it adds at start-up (unless --no-warnings); without it,
  // ours is the only one.
  const nodePrinters = process.listeners('warning');
  for (const listener of nodePrinters) process.off('warning', listener);
  const onWarning = (warning: Error & { code?: string }) =>
    logger.warn(`${warning.name}: ${warning.message}`, {
      warning: { name: warning.name, ...(warning.code ? { code: warning.code } : {}) },
    });
  process.on('warning', onWarning);

  const consoleMethods = ['log', 'info', 'debug', 'warn', 'error', 'trace'] as const;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept only to be put back on console as they were
  const saved = consoleMethods.map((name) => [name, console[name]] as const);
  const log =
    (level: 'info' | 'warn' | 'error') =>
    (...args: unknown[]) =>
      logger[level](format(...args), { source: 'console' });
  console.log = console.info = log('info');
  console.debug = console.trace = (...args: unknown[]) => logger.debug?.(format(...args), { source: 'console' });
  console.warn = log('warn');
  console.error = log('error');

  // Node's default for an uncaught exception (or an unhandled rejection) is to print the stack to stderr and
  // exit with 1: the same, as a log line.
  const onFatal = (error: unknown, origin: string) => {
    logger.error(`fatal ${origin}: ${errorSummary(error)}`, { err: error });
    process.exit(1);
  };
  process.on('uncaughtException', onFatal);

  return () => {
    process.off('warning', onWarning);
    process.off('uncaughtException', onFatal);
    for (const listener of nodePrinters) process.on('warning', listener);
    for (const [name, fn] of saved) console[name] = fn as never;
  };
}
