// Lint rules enforced in CI (`npm run lint`): typescript-eslint's type-aware recommended set, plus the rules the
// codebase depends on (no floating promises, no unused bindings). Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'src/db/generated/**',
      'src/client/gql/**',
      'bench/results/**',
      'bench/peers/**/node_modules/**',
      'dist/**',
      'node_modules/**',
      'test-artifacts/**',
      'test-results/**',
      'bin/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Suppressions must say why on the same line.
      'no-warning-comments': 'off',
    },
  },
  {
    // Tests read GraphQL responses as JSON off the wire and check them with expect(); the assertions are the type
    // check there. Where codegen already types an operation, tests use the typed document instead.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
