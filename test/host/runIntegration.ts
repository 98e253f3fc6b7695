import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { closeAllBrowsers, launchBrowser } from './browser';
import { newRunHome, remoteUri, startCodeServer, stopAllCodeServers, workbenchUrl } from './codeServer';
import { repoRoot, sampleWorkspace } from './paths';
import type { Page } from './playwright';
import { testHost } from './testHost';
import type { TierResult } from './tierResult';
import { writeTierResult } from './tierResult';

/**
 * Runs test/integration inside a real extension host: code-server cannot take
 * --extensionDevelopmentPath on its command line, so the extension and the mocha entry point
 * travel in the workbench URL's `payload` (the mechanism @vscode/test-web uses), and the
 * workbench reports the end through window.codeAutomationExit.
 */
async function main(resultFile: string): Promise<number> {
  const home = newRunHome('integration');
  const testResults = join(home, 'mocha-results.json');
  const workspace = join(home, 'workspace');
  mkdirSync(join(workspace, '.vscode'), { recursive: true });
  // A private copy of the sample workspace, so tests may change it freely.
  for (const file of ['.vscode/lifeline.json', 'README.md']) {
    const text = readFileSync(join(sampleWorkspace, file));
    writeFileSync(join(workspace, file), text);
  }
  // LIFELINE_TEST_STORAGE_FAULTS: the extension's test-only full-disk switch (src/vscode/testStorageFaults.ts).
  const server = await startCodeServer({
    home,
    env: { LIFELINE_TEST_RESULTS: testResults, LIFELINE_TEST_HOME: home, LIFELINE_TEST_STORAGE_FAULTS: '1' },
  });
  const context = await launchBrowser(home);
  const page = context.pages()[0] ?? (await context.newPage());
  if (testHost().payloadNeedsSmokeTestDriver) await withSmokeTestDriver(page);
  const exitCode = new Promise<number>((resolve) => {
    void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
  });
  await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
    // mocha's spec reporter arrives as 'log'; the workbench's own errors (the closed network's
    // failed gallery look-ups, for one) go to the run's log file, not the test output.
    const line = format(...(Array.isArray(args) ? args : [args]));
    if (type === 'log' || type === 'info') process.stdout.write(`${line}\n`);
    else appendFileSync(join(home, 'workbench.log'), `[${type}] ${line}\n`);
  });
  const payload: [string, string][] = [
    ['extensionDevelopmentPath', remoteUri(server, repoRoot)],
    ['extensionTestsPath', remoteUri(server, join(repoRoot, 'out', 'test', 'integration', 'index.js'))],
    ['skipWelcome', 'true'],
  ];
  await page.goto(workbenchUrl(server, workspace, payload));
  const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-1), 15 * 60_000).unref());
  const code = await Promise.race([exitCode, timeout]);
  let result: TierResult;
  try {
    result = JSON.parse(readFileSync(testResults, 'utf8')) as TierResult;
  } catch {
    result = {
      tier: 'integration',
      passed: 0,
      failed: 1,
      failures: [`the extension host reported no results (exit code ${code}); see ${server.logFile}`],
    };
  }
  await closeAllBrowsers();
  await stopAllCodeServers();
  writeTierResult(resultFile, { ...result, tier: 'integration' });
  if (code === 0 && result.failed === 0) rmSync(home, { recursive: true, force: true });
  return code === 0 ? 0 : 1;
}

/**
 * VS Code 1.139's built workbench reads the payload's extension under development and its tests
 * only under the smoke-test driver, which code-server's command line does not pass on
 * (`--enable-smoke-test-driver` is an unknown option there): the workbench's configuration gets
 * it in the page instead, as VS Code's own server writes it for that flag (the page's meta
 * element is read once, through getAttribute, when the workbench starts). The driver also hides
 * notification toasts, which no integration test looks at (the e2e tier does, and runs without it).
 */
async function withSmokeTestDriver(page: Page): Promise<void> {
  await page.addInitScript(`{
    const getAttribute = Element.prototype.getAttribute;
    Element.prototype.getAttribute = function (name) {
      const value = getAttribute.call(this, name);
      if (this.id !== 'vscode-workbench-web-configuration' || name !== 'data-settings' || !value) return value;
      const settings = JSON.parse(value);
      settings.developmentOptions = { ...settings.developmentOptions, enableSmokeTestDriver: true };
      return JSON.stringify(settings);
    };
  }`);
}

main(process.argv[2] ?? join(repoRoot, 'out', 'integration-result.json')).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    process.stderr.write(`integration runner failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    await closeAllBrowsers();
    await stopAllCodeServers();
    process.exit(1);
  },
);
