import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships CommonJS (index.js) and ESM (index.mjs) side by side. Under vitest the dependencies it
    // leaves external (graphql-yoga, Pothos) load graphql's CommonJS build, while our own sources would get
    // a second copy: two GraphQLError classes, and Yoga would mask our deliberate errors as unexpected.
    // Pin the same build for our sources. (Plain `node` in production uses the ESM build everywhere.)
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL('./node_modules/graphql/index.js', import.meta.url)) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Disposes what a test started and did not release (it failed first): see test/helpers/leftovers.ts.
    setupFiles: ['test/setup/leftovers.ts'],
    // Each file gets its own PGlite database and servers on port 0, so files can run in parallel;
    // two workers match the two cores of the build machines.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // In CI a JSON report per run (PGlite, then PostgreSQL) feeds the plain summary line .ci/run prints.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: `test-results/vitest-${process.env.TEST_DATABASE ?? 'pglite'}.json` }]]
      : ['default'],
  },
});
