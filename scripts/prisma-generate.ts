import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `prisma generate` without network access. Every Prisma CLI command first tries to download the native
 * schema engine, which these machines cannot reach; `generate` never uses it, so pointing
 * PRISMA_SCHEMA_ENGINE_BINARY at any existing executable is enough (see ../shared/reference/environment.md).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const result = spawnSync(process.execPath, [fileURLToPath(new URL('../node_modules/prisma/build/index.js', import.meta.url)), 'generate', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
process.exit(result.status ?? 1);
