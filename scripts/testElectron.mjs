#!/usr/bin/env node
// `npm run test:electron`: the integration tier in a desktop VS Code downloaded by
// @vscode/test-electron. For machines that can reach Microsoft's update server (a laptop, a
// public CI); this machine cannot, so `npm test` reaches a real VS Code through code-server.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, cpSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const args of [['esbuild.mjs'], [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json']]) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
const home = mkdtempSync(join(tmpdir(), 'lifeline-electron-'));
const workspace = join(home, 'workspace');
cpSync(join(root, 'samples', 'demo-workspace'), workspace, { recursive: true });
const results = join(home, 'results.json');
try {
  await runTests({
    version: '1.100.3',
    extensionDevelopmentPath: root,
    extensionTestsPath: join(root, 'out', 'test', 'integration', 'index.js'),
    launchArgs: [workspace, '--disable-extensions', '--user-data-dir', join(home, 'user-data')],
    // LIFELINE_TEST_STORAGE_FAULTS: the extension's test-only full-disk switch (src/vscode/testStorageFaults.ts).
    extensionTestsEnv: { LIFELINE_TEST_RESULTS: results, LIFELINE_TEST_HOME: home, LIFELINE_TEST_STORAGE_FAULTS: '1' },
  });
  const { passed, failed } = JSON.parse(readFileSync(results, 'utf8'));
  console.log(`\n${passed} passed, ${failed} failed`);
} catch (error) {
  console.error(`test:electron failed: ${error.message}`);
  process.exit(1);
}
