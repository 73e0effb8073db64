import { createApp } from '../app.ts';
import { ConfigError, loadConfig, loadLogSettings } from '../config.ts';
import { routeProcessOutput } from '../log/process-output.ts';
import { createLogger, redactingLogger } from '../logger.ts';
import { errorMessage } from '../lib/errors.ts';

// Entry point of `npm start`: parse the environment once, start, and stop cleanly on SIGINT/SIGTERM.
// The logger comes first, so that even a bad configuration is reported as a log line (JSON unless stdout is a
// terminal); Node's warnings, console output of dependencies and a crash go through it too.
const logSettings = loadLogSettings(process.env);
const logger = createLogger({
  format: logSettings.format ?? (process.stdout.isTTY ? 'pretty' : 'json'),
  level: logSettings.level,
});
let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    logger.error(error.message, { issues: error.issues });
    process.exit(1);
  }
  throw error;
}
// Still synchronous, so no warning has been printed yet (Node emits them on the next tick).
routeProcessOutput(redactingLogger(logger, [config.fal.key]));

const app = createApp(config, { logger });
try {
  await app.start();
} catch (error) {
  logger.error(`could not start: ${errorMessage(error)}`);
  process.exit(1);
}

// What a graceful stop does after in-flight requests are drained (trackers, leases, database, Redis).
const SHUTDOWN_MARGIN_MS = 5_000;

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, shutting down`);
    // Bounded: a stuck close must not keep a deploy waiting forever. In-flight requests get SHUTDOWN_TIMEOUT_MS;
    // the margin covers what follows them (trackers, database, Redis), so a slow drain is never cut short.
    const bound = config.shutdownTimeoutMs + SHUTDOWN_MARGIN_MS;
    const force = setTimeout(() => {
      logger.error(
        `shutdown did not finish within ${bound} ms (SHUTDOWN_TIMEOUT_MS=${config.shutdownTimeoutMs} plus ${SHUTDOWN_MARGIN_MS} ms), exiting`,
      );
      process.exit(1);
    }, bound);
    force.unref();
    void app.stop().then(() => process.exit(0));
  });
}
