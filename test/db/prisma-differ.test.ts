import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { describe, expect, it } from 'vitest';
import { readMigrations } from '../../src/db/migrate.ts';

// Prisma Migrate's own differ, from @prisma/schema-engine-wasm (the schema engine compiled to WebAssembly,
// driving PGlite through pglite-prisma-adapter instead of a downloaded native binary): it applies
// prisma/migrations to an empty shadow database and compares the result with schema.prisma. An empty diff
// is exactly what `prisma migrate diff --from-migrations prisma/migrations --to-schema prisma/schema.prisma
// --exit-code` reports on a machine with the native engine.
//
// @prisma/schema-engine-wasm is a devDependency pinned to the build nearest our Prisma CLI (the exact
// build is not published); the catalog comparison in migrations.test.ts covers the same ground without it.

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const enginePath = require.resolve('@prisma/schema-engine-wasm');

describe("Prisma Migrate's differ (@prisma/schema-engine-wasm)", () => {
  it('finds nothing between prisma/migrations and schema.prisma', async () => {
    const { SchemaEngine } = await import(pathToFileURL(enginePath).href);
    const { bindMigrationAwareSqlAdapterFactory } = await import(pathToFileURL(require.resolve('@prisma/driver-adapter-utils')).href);
    const schemaPath = join(root, 'prisma/schema.prisma');
    const schema = await readFile(schemaPath, 'utf8');
    const baseDir = join(root, 'prisma/migrations');
    const lite = new PGlite();
    // The adapter's shadow database is a second, in-memory PGlite it creates for the diff.
    const engine = await SchemaEngine.new(
      { datamodels: [[schemaPath, schema]] },
      () => {},
      bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(lite)),
    );
    try {
      const migrations = await readMigrations(baseDir);
      const result = await engine.diff({
        from: {
          tag: 'migrations',
          baseDir,
          lockfile: { path: 'migration_lock.toml', content: await readFile(join(baseDir, 'migration_lock.toml'), 'utf8') },
          shadowDbInitScript: '',
          migrationDirectories: migrations.map((m) => ({
            path: m.name,
            migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: m.sql } },
          })),
        },
        to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
        script: true,
        exitCode: true,
        filters: { externalTables: [], externalEnums: [] },
      });
      expect(result.stdout?.trim(), 'the SQL that a new migration would need').toBe('-- This is an empty migration.');
      expect(result.exitCode).toBe(0);
    } finally {
      engine.free();
      await lite.close();
    }
  });
});
