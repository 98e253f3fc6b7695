#!/usr/bin/env node
// `npm test`: builds, then runs the three tiers (unit in plain Node, integration inside a real
// VS Code extension host, e2e through a real browser driving the real workbench) and prints
// `N passed, N failed` summed over all tiers as the very last line. Exits non-zero when anything
// failed or when a tier ran no test. `npm test -- unit e2e` runs only the named tiers.
// The integration and e2e tiers run once per test host (the oldest and the newest VS Code, see
// scripts/setupTestHost.mjs), each reported as `<tier>@<code-server version>`;
// LIFELINE_TEST_HOSTS=oldest|newest|both (default both) picks the hosts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestHost, selectedHostNames, TEST_HOSTS } from './setupTestHost.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const allTiers = ['unit', 'integration', 'e2e'];
const tiers = process.argv.slice(2).filter((arg) => allTiers.includes(arg));
const selected = tiers.length > 0 ? tiers : allTiers;

function step(title, command, args) {
  process.stdout.write(`\n> ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${title} failed (exit code ${result.status ?? result.signal})`);
}

const results = [];
let hosts;
try {
  hosts = selectedHostNames();
  step('build', process.execPath, ['esbuild.mjs']);
  step('compile tests', process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json']);
  if (selected.some((tier) => tier !== 'unit')) ensureTestHost(hosts);
} catch (error) {
  process.stdout.write(`${error.message}\n\n0 passed, 1 failed\n`);
  process.exit(1);
}

const resultsDir = join(root, 'out', 'tier-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });
const runs = selected.flatMap((tier) => (tier === 'unit' ? [{ tier }] : hosts.map((host) => ({ tier, host }))));
for (const { tier, host } of runs) {
  const label = host ? `${tier}@${TEST_HOSTS[host].codeServer}` : tier;
  const resultFile = join(resultsDir, `${label}.json`);
  const script = tier === 'integration' ? 'runIntegration.js' : 'runTier.js';
  const args = tier === 'integration' ? [resultFile] : [tier, resultFile];
  process.stdout.write(`\n> ${label} tests${host ? ` (${host} VS Code: code-server ${TEST_HOSTS[host].codeServer})` : ''}\n`);
  const started = Date.now();
  const env = host ? { ...process.env, LIFELINE_TEST_HOST: host } : process.env;
  const run = spawnSync(process.execPath, [join(root, 'out', 'test', 'host', script), ...args], { cwd: root, stdio: 'inherit', env });
  let result;
  if (existsSync(resultFile)) result = JSON.parse(readFileSync(resultFile, 'utf8'));
  else result = { passed: 0, failed: 1, failures: [`the ${label} tier reported nothing (exit code ${run.status ?? run.signal})`] };
  results.push({ ...result, tier: label, seconds: Math.round((Date.now() - started) / 1000) });
}

process.stdout.write('\nSummary\n');
let passed = 0;
let failed = 0;
let empty = false;
for (const result of results) {
  passed += result.passed;
  failed += result.failed;
  if (result.passed + result.failed === 0) empty = true;
  process.stdout.write(
    `  ${result.tier.padEnd(20)} ${result.passed} passed, ${result.failed} failed${result.passed + result.failed === 0 ? '  (ran no test)' : ''}  (${result.seconds} s)\n`,
  );
  for (const failure of result.failures) process.stdout.write(`    ✗ ${failure}\n`);
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 || empty ? 1 : 0);
