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
  // The rest of the runner sees the engine through its facade (executions.ts), its events and
  // error kinds; only the composition root (runner.ts) assembles the engine itself.
  {
    files: ['runner/src/**/*.ts'],
    ignores: ['runner/src/engine/**', 'runner/src/runner.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'Only client/ may import vscode.' }],
          patterns: [
            {
              group: [
                '**/engine/*',
                '!**/engine/executions',
                '!**/engine/events',
                '!**/engine/errors',
                '!**/engine/flowFiles',
                '!**/engine/batches',
              ],
              message: 'Use the engine through engine/executions.ts (its facade), events.ts or errors.ts.',
            },
          ],
        },
      ],
    },
  },
  // Tests read JSON answers loosely; the assertions are the type check there.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['*.js', 'bin/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
);
