import { parseArgs } from 'node:util';
import { ApiKeyInputError, createApiKey, listApiKeys, revokeApiKey, type ApiKeyInfo } from '../auth/keys.ts';
import { ConfigError, loadConfig, type Config } from '../config.ts';
import { createDb, migrate, type Database } from '../db/index.ts';
import { errorMessage } from '../lib/errors.ts';

// `npm run keys -- <command>`: manage API keys in the configured database (DATABASE_URL, or the embedded
// database in DATA_DIR while the server is stopped). Keys are printed once, at creation, and never again.
const USAGE = `usage:
  npm run keys -- create --tenant <tenant> --name <label> [--admin] [--json]
  npm run keys -- list [--tenant <tenant>] [--json]
  npm run keys -- revoke <id or prefix>`;

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    tenant: { type: 'string' },
    name: { type: 'string' },
    admin: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

const [command, ...rest] = positionals;
if (values.help || !command) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}

// Messages read "reelgraph keys: <lower-case text>", like the reelgraph command's.
const fail = (message: string, code = 1): never => {
  process.stderr.write(`reelgraph keys: ${message}\n`);
  process.exit(code);
};

const describe = (k: ApiKeyInfo) =>
  `${k.id}  ${k.prefix}…  tenant=${k.tenantId}  name=${k.name}  scope=${k.scope}  created=${k.createdAt.toISOString()}` +
  `  last-used=${k.lastUsedAt?.toISOString() ?? 'never'}${k.revokedAt ? `  REVOKED ${k.revokedAt.toISOString()}` : ''}`;

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  config = fail(error instanceof ConfigError ? error.message : errorMessage(error));
}

let database: Database;
try {
  database = await createDb(config.database);
  await migrate(database);
} catch (error) {
  database = fail(`cannot open the database: ${errorMessage(error)}`);
}

let exitCode = 0;
try {
  const db = database.prisma;
  if (command === 'create') {
    if (!values.tenant || !values.name) throw new ApiKeyInputError('create needs --tenant and --name');
    const { key, info } = await createApiKey(db, { tenantId: values.tenant, name: values.name, scope: values.admin ? 'ADMIN' : 'TENANT' });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...info, key })}\n`);
    } else {
      process.stderr.write(
        `reelgraph keys: created ${info.scope === 'ADMIN' ? 'an ADMIN' : 'a'} key "${info.name}" for tenant ${info.tenantId} (id ${info.id}).\n`,
      );
      process.stderr.write('reelgraph keys: this is the only time it is shown; store it now (send it as "Authorization: Bearer <key>"):\n');
      process.stdout.write(`${key}\n`);
    }
  } else if (command === 'list') {
    const keys = await listApiKeys(db, { tenantId: values.tenant });
    if (values.json) process.stdout.write(`${JSON.stringify(keys)}\n`);
    else process.stdout.write(keys.length ? `${keys.map(describe).join('\n')}\n` : 'no API keys\n');
  } else if (command === 'revoke') {
    if (rest.length !== 1) throw new ApiKeyInputError('revoke needs exactly one key id or prefix');
    const info = await revokeApiKey(db, rest[0]);
    process.stdout.write(`revoked: ${describe(info)}\n`);
  } else {
    throw new ApiKeyInputError(`unknown command "${command}"\n${USAGE}`);
  }
} catch (error) {
  exitCode = error instanceof ApiKeyInputError ? 2 : 1;
  process.stderr.write(`reelgraph keys: ${errorMessage(error)}\n`);
} finally {
  await database.close();
}
process.exit(exitCode);
