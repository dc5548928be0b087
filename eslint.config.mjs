import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'out/**',
      'node_modules/**',
      'test-results/**',
      'test/fixtures/**',
      '.vscode-test/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.mocha } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // vscode must only be imported under client/ (layers that do not leak).
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'vscode', message: 'Only client/ may import vscode.' }] },
      ],
    },
  },
  { files: ['client/**', 'test/vscode/**'], rules: { 'no-restricted-imports': 'off' } },
  // Tests read JSON answers loosely; the assertions are the type check there.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['*.js', 'bin/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
