import { join } from 'node:path';
import { freePort } from './app.ts';

/**
 * The environment of one instance in a cluster test: its own port and DATA_DIR (under `dataDir`), the shared
 * PostgreSQL, and fal pointed at the test's simulator with the key it expects. Tests add what they are about
 * (Redis, a bucket, lease timings).
 */
export async function instanceEnv(options: {
  name: string;
  dataDir: string;
  databaseUrl: string;
  falUrl: string;
  falKey: string;
  poolSize?: number;
}): Promise<Record<string, string>> {
  return {
    PORT: String(await freePort()),
    DATA_DIR: join(options.dataDir, options.name),
    DATABASE_URL: options.databaseUrl,
    DATABASE_POOL_SIZE: String(options.poolSize ?? 5),
    INSTANCE_ID: options.name,
    FAL_KEY: options.falKey,
    FAL_QUEUE_URL: options.falUrl,
    FAL_REST_URL: options.falUrl,
    FAL_POLL_INTERVAL_MS: '100',
  };
}
