#!/usr/bin/env node
// `npm run package [-- --out <file.vsix>]`: a production build packaged with @vscode/vsce.
// Everything that runs is bundled into dist/ (sql.js's wasm beside it), so the .vsix is made with
// --no-dependencies and .vscodeignore keeps only what runs. Prints the size against the budget.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET_BYTES = 1.5 * 1024 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, `lifeline-${version}.vsix`);

// vsce runs `vscode:prepublish` (the production build) itself.
const vsce = spawnSync(
  process.execPath,
  [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--out', out],
  {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  },
);
if (vsce.status !== 0) process.exit(vsce.status ?? 1);
const size = statSync(out).size;
const within = size <= BUDGET_BYTES;
console.log(`vsix: ${out} ${(size / 1024 / 1024).toFixed(2)} MB (${size} bytes; budget 1.50 MB: ${within ? 'within' : 'OVER'})`);
process.exit(within ? 0 : 1);
