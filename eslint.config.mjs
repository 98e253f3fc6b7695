import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const vscodeImport = {
  name: 'vscode',
  message:
    'Layer rule "no vscode below src/vscode": src/core, src/supervisor and src/shared run in plain Node and never import vscode; pass what they need through their context object (docs/architecture.md, Layers).',
};

const root = import.meta.dirname;
const layers = 'docs/architecture.md, Layers';

/**
 * The layer picture of docs/architecture.md as import-x/no-restricted-paths zones. Zones match resolved
 * file paths, so `../queue/jobModel` and `../../core/queue/jobModel` are caught alike. Each zone is a
 * named constant so a temporary exemption below can drop exactly one zone for exactly one file.
 */
/** The parts of the core above storage. */
const coreAboveStorage = [
  'src/core/queue',
  'src/core/session',
  'src/core/supervisors',
  'src/core/history',
  'src/core/runtime',
  'src/core/workspaceConfig',
  'src/core/panels',
];
const storageIsTheBottom = {
  target: 'src/core/storage',
  from: [...coreAboveStorage, 'src/supervisor', 'src/vscode'],
  message: `Layer rule "storage is the bottom": src/core/storage imports only itself and the generic src/core/*.ts files (${layers}).`,
};
const historyBelowTheQueue = {
  target: 'src/core/history',
  from: ['src/core/queue', 'src/core/session', 'src/core/supervisors', 'src/core/runtime', 'src/supervisor', 'src/vscode'],
  message: `Layer rule "history does not know the queue": src/core/history imports storage and generic src/core files; src/core/runtime links jobs to history (${layers}).`,
};
const sharedIsALeaf = {
  target: 'src/shared',
  from: ['src/core', 'src/vscode', 'src/supervisor'],
  message: `Layer rule "shared is a leaf": src/shared is seen by the host, the webviews and the supervisor, so it imports no core, editor or supervisor code (${layers}).`,
};
const supervisorStandsAlone = {
  target: 'src/supervisor',
  from: [...coreAboveStorage, 'src/vscode'],
  message: `Layer rule "the supervisor stands alone": src/supervisor imports only src/shared (the wire format), src/core/storage and generic src/core files (${layers}).`,
};
const webviewsSeeShared = {
  target: 'media',
  from: ['src'],
  except: ['./shared'],
  message: `Layer rule "webviews see src/shared only": media/ runs in a browser and imports only src/shared (${layers}).`,
};
const layerZones = [storageIsTheBottom, historyBelowTheQueue, sharedIsALeaf, supervisorStandsAlone, webviewsSeeShared];
const restrictedPaths = (zones) => ['error', { basePath: root, zones }];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.vscode-test/**', 'samples/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      eqeqeq: ['error', 'always'],
      // Prettier wraps code at 140 columns but never splits a string; this catches what it cannot
      // (a comment, a long name). A long message or template literal stays whole, so it can be grepped.
      'max-len': ['error', { code: 140, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true }],
      // Prettier breaks a long braceless `if (...) statement;` onto two lines; then it needs braces.
      curly: ['error', 'multi-line'],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'No barrel files: import from the module that defines the symbol.' },
      ],
    },
  },
  {
    // The first boundary (docs/architecture.md): the core and the supervisor never import vscode.
    // src/storeCli (lifeline-store), src/cli (`lifeline`) and src/mcp (`lifeline mcp`) run with plain node: the same rule.
    files: [
      'src/core/**/*.ts',
      'src/supervisor/**/*.ts',
      'src/shared/**/*.ts',
      'src/storeCli/**/*.ts',
      'src/cli/**/*.ts',
      'src/mcp/**/*.ts',
      'test/unit/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [vscodeImport],
          patterns: [
            {
              group: ['**/vscode/**', '../vscode/*'],
              message: `Layer rule "no vscode below src/vscode": the core never depends on the VS Code layer (src/vscode) (${layers}).`,
            },
          ],
        },
      ],
    },
  },
  {
    // Webview front-ends see only the shared protocol files (also a zone below; this one needs no resolver).
    files: ['media/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [vscodeImport],
          patterns: [
            {
              group: ['**/src/core/**', '**/src/vscode/**', '**/src/supervisor/**', '**/src/shared/supervisor/node/**'],
              message: `${webviewsSeeShared.message} Never its Node-only src/shared/supervisor/node.`,
            },
          ],
        },
      ],
    },
  },
  {
    // The layer picture and no import cycles. Type-only imports do not count as a cycle (they vanish at
    // runtime); a value cycle makes module load order decide what is undefined.
    files: ['src/**/*.ts', 'media/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // The rules parse what a file imports (to follow a cycle), and skip files of other extensions.
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${root}/tsconfig.json` })],
    },
    rules: {
      'import-x/no-restricted-paths': restrictedPaths(layerZones),
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['**/*.mjs', 'scripts/**'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
