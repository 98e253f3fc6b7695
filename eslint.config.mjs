import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const vscodeImport = {
  name: 'vscode',
  message: 'src/core and src/supervisor run in plain Node and never import vscode: pass what they need through their context object.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'samples/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'No barrel files: import from the module that defines the symbol.' }],
    },
  },
  {
    // The boundary of STYLE.md rule 1: the core and the supervisor never import vscode.
    files: ['src/core/**/*.ts', 'src/supervisor/**/*.ts', 'src/shared/**/*.ts', 'test/unit/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [vscodeImport], patterns: [{ group: ['**/vscode/**', '../vscode/*'], message: 'The core never depends on the VS Code layer (src/vscode).' }] }],
    },
  },
  {
    // Webview front-ends see only the shared protocol files.
    files: ['media/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [vscodeImport], patterns: [{ group: ['**/src/core/**', '**/src/vscode/**', '**/src/supervisor/**', '**/src/shared/supervisor/node/**'], message: 'Webviews import only from src/shared, never its Node-only src/shared/supervisor/node.' }] }],
    },
  },
  {
    files: ['**/*.mjs', 'scripts/**'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
