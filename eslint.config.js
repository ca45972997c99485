// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    name: 'sift/ignores',
    ignores: ['**/.readme/**', '**/dist/**', '**/node_modules/**', '**/coverage/**', '**/*.d.ts', 'apps/demo/public/**', '.changeset/**'],
  },
  {
    name: 'sift/javascript',
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    name: 'sift/typescript',
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.strictTypeChecked, ...tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts', 'vitest.workspace.ts'], defaultProject: 'tsconfig.base.json' },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numeric kernels compare and format numbers in template strings constantly; `${n}` is clear enough.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Packages import each other only through their public entry points (`@sift/x`, `@sift/x/testing`).
      'no-restricted-imports': ['error', {
        patterns: [{ regex: '^@sift/[^/]+/(src|dist)(/|$)', message: 'Import the package entry point, not its files.' },
          { regex: '^(\\.\\./)+(packages|apps)/', message: 'Import another package by its name.' }],
      }],
      // Typed-array indexing in numeric loops is checked by tests; `!` on them is noise.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    name: 'sift/tests',
    files: ['**/*.test.ts', '**/bench/**/*.ts', 'tools/**/*.ts'],
    rules: {
      // Tests assert on values whose types the assertion itself checks.
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
