import { spawnSync } from 'node:child_process';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run prisma:generate`: regenerates src/db/generated (Prisma Client and Pothos types) from
 * prisma/schema.prisma, offline. Extra arguments go to `prisma generate` (the freshness test passes
 * `--schema <copy>` to generate into a scratch folder).
 *
 * Every Prisma CLI command first looks for the native schema engine and tries to download it, which these
 * machines cannot do; `generate` never uses it, so PRISMA_SCHEMA_ENGINE_BINARY may point at any existing
 * executable (see shared/reference/environment.md). The generators are separate processes the CLI starts
 * through a shell (`prisma-pothos-types` is a `#!/usr/bin/env node` script), so PATH is set here too:
 * run as `node scripts/prisma-generate.ts` outside npm, they would otherwise not be found, or would run
 * on the system's older Node.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const result = spawnSync(process.execPath, [join(root, 'node_modules/prisma/build/index.js'), 'generate', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PATH: [join(root, 'node_modules/.bin'), dirname(process.execPath), process.env.PATH].filter(Boolean).join(delimiter),
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    // No update check or telemetry: both would try the network and only slow the command down here.
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);
