import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed client documents for everything that talks to this server as a client would: the CLI
 * (src/cli/reelgraph) and the dashboard (src/dashboard). `npm run codegen` regenerates src/client/gql/ from
 * schema.graphql; a test fails when the committed output is stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['src/cli/reelgraph/**/*.ts', 'src/dashboard/**/*.ts', 'src/client/operations.ts'],
  ignoreNoDocuments: true,
  generates: {
    'src/client/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        // Explicit extensions: Node runs these files by type stripping and the dashboard serves them to browsers.
        importExtension: '.ts',
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', File: 'File' },
      },
    },
  },
};
export default config;
