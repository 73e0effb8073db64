import { ConfigError, loadConfig } from '../config.ts';
import { createDb, migrate } from '../db/index.ts';
import { errorMessage } from '../lib/errors.ts';

// `npm run migrate`: apply pending migrations to the configured database and exit (start-up does this too).
try {
  const config = loadConfig(process.env);
  const database = await createDb(config.database);
  try {
    const { applied } = await migrate(database, { log: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await database.close();
  }
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : `migration failed: ${errorMessage(error)}`}\n`);
  process.exit(1);
}
