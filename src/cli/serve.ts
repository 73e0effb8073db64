import { createApp } from '../app.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';

// Entry point of `npm start`: parse the environment once, start, and stop cleanly on SIGINT/SIGTERM.
const logger = createLogger();
let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const app = createApp(config, { logger });
try {
  await app.start();
} catch (error) {
  logger.error(`could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal} received, shutting down`);
    // Bounded: a stuck close must not keep a deploy waiting forever.
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    void app.stop().then(() => process.exit(0));
  });
}
