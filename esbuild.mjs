// Builds every bundle Lifeline ships: the extension (node, cjs, `vscode` external), the detached
// supervisor (node), the offline `lifeline-store` command (node), one browser bundle per webview, plus the files that must sit beside them
// (sql.js's wasm, codicons, the JSON schema of .vscode/lifeline.json).
// Usage: node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const dist = join(root, 'dist');

/** One entry per webview: media/<name>/main.ts becomes dist/webviews/<name>.js. */
const webviews = ['queuePanel', 'historyPanel'];

const common = {
  bundle: true,
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
  legalComments: 'none',
};

/** Copies what the bundles load at run time but esbuild cannot inline. */
function copyAssets() {
  const require = createRequire(import.meta.url);
  mkdirSync(join(dist, 'codicons'), { recursive: true });
  copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), join(dist, 'sql-wasm.wasm'));
  const codicons = dirname(require.resolve('@vscode/codicons/dist/codicon.css'));
  copyFileSync(join(codicons, 'codicon.css'), join(dist, 'codicons', 'codicon.css'));
  copyFileSync(join(codicons, 'codicon.ttf'), join(dist, 'codicons', 'codicon.ttf'));
}

/** Writes dist/lifeline.schema.json from the zod schema, so the two cannot drift apart. */
async function writeWorkspaceConfigSchema() {
  const result = await esbuild.build({
    entryPoints: [join(root, 'src/shared/workspaceConfigJsonSchema.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  const module = { exports: {} };
  new Function('module', 'exports', 'require', result.outputFiles[0].text)(module, module.exports, createRequire(import.meta.url));
  writeFileSync(join(dist, 'lifeline.schema.json'), JSON.stringify(module.exports.workspaceConfigJsonSchema(), null, 2) + '\n');
}

const copyAssetsPlugin = {
  name: 'lifeline-assets',
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length > 0) return;
      copyAssets();
      await writeWorkspaceConfigSchema();
      if (watch) console.log(`[watch] build finished ${new Date().toLocaleTimeString()}`);
    });
  },
};

const builds = [
  {
    ...common,
    entryPoints: { extension: join(root, 'src/extension.ts') },
    outdir: dist,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    // jsonc-parser's `main` is a UMD build whose run-time requires esbuild cannot follow; its ESM build bundles.
    mainFields: ['module', 'main'],
    // sql.js probes for `fs`/`path` at run time and must find Node's own.
    plugins: [copyAssetsPlugin],
  },
  {
    ...common,
    entryPoints: { supervisor: join(root, 'src/supervisor/main.ts') },
    outdir: dist,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
  },
  {
    // `lifeline-store`, the offline command (docs/lifeline-store.md): run with plain `node`, no VS Code.
    ...common,
    entryPoints: { 'lifeline-store': join(root, 'src/storeCli/main.ts') },
    outdir: dist,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    // `lifeline`, the queue from a terminal and the MCP server for agents (docs/cli.md): run with the editor's own runtime.
    ...common,
    entryPoints: { lifeline: join(root, 'src/cli/main.ts') },
    outdir: dist,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: '#!/usr/bin/env node' },
  },
  ...webviews
    .filter((name) => existsSync(join(root, 'media', name, 'main.ts')))
    .map((name) => ({
      ...common,
      entryPoints: { [name]: join(root, 'media', name, 'main.ts') },
      outdir: join(dist, 'webviews'),
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      loader: { '.css': 'css' },
    })),
];

// A production build starts from an empty dist/, so no stale file (a source map) reaches the .vsix.
if (production) rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
if (watch) {
  const contexts = await Promise.all(builds.map((options) => esbuild.context(options)));
  await Promise.all(contexts.map((context) => context.watch()));
  console.log('[watch] watching for changes');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
