#!/usr/bin/env node
// `npm start [-- --port 8080]`: builds Lifeline, starts a real VS Code (code-server 4.100.3, or the
// newest test host with LIFELINE_TEST_HOST=newest) on 127.0.0.1 with Lifeline loaded on the sample
// workspace, and prints the URL to open.
// Ctrl+C stops everything it started. State (user data, browser-side storage aside) is kept in
// .vscode-test/start/, so a restart finds the queue and history where they were.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTestHost } from './setupTestHost.mjs';
import { startPort } from './startPort.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const chosen = startPort(process.argv.slice(2));
if ('error' in chosen) {
  console.error(chosen.error);
  process.exit(2);
}
const { port } = chosen;

function step(title, args) {
  console.log(`> ${title}`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

step('build', ['esbuild.mjs']);
// The code-server launcher is shared with the tests (test/host/codeServer.ts).
step('compile the host helpers', [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json']);
try {
  ensureTestHost([process.env.LIFELINE_TEST_HOST || 'oldest']);
} catch (error) {
  console.error(error.message);
  process.exit(1);
}

const { startCodeServer, workbenchUrl, freePort, CodeServerStartError } = require(join(root, 'out', 'test', 'host', 'codeServer.js'));
const { developmentPayload } = require(join(root, 'out', 'test', 'host', 'devWorkbench.js'));
const home = process.env.LIFELINE_START_HOME ?? join(root, '.vscode-test', 'start');
mkdirSync(home, { recursive: true });
let server;
try {
  // The settings.json of .vscode-test/start is the developer's: written once, then left alone.
  server = await startCodeServer({ home, port, keepUserSettings: true });
} catch (error) {
  const hint = error instanceof CodeServerStartError && error.reason === 'portInUse' ? ` Try: npm start -- --port ${await freePort()}` : '';
  console.error(`${error.message}.${hint}`);
  process.exit(1);
}
const workspace = join(root, 'samples', 'demo-workspace');
const url = workbenchUrl(server, workspace, developmentPayload(server));
console.log(`\nLifeline is loaded in a real VS Code (code-server) on the sample workspace. Open:\n\n  ${url}\n`);
console.log(`Server log: ${server.logFile} (code-server pid ${server.pid}, its own process group)`);
console.log('After `npm run watch` rebuilds, run "Developer: Reload Window". Press Ctrl+C to stop.');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping code-server…');
  await server.stop();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => undefined, 1 << 30);
