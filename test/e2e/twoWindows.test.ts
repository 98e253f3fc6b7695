import * as assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { extensionHostPids, newRunHome, startCodeServer } from '../host/codeServer';
import { openDevWorkbenchPage } from '../host/devWorkbench';
import { sampleWorkspace } from '../host/paths';
import type { BrowserContext, Page } from '../host/playwright';
import {
  answerInputBox,
  lifelineLogText,
  lifelineStorageFolders,
  runCommand,
  screenshot,
  showLifelineViews,
  waitUntil,
} from '../host/workbench';

/** Two windows on one folder: one holds the queue, the other is its client, and takes over. */
describe('two windows on one workspace (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext;
  let first: Page;
  let second: Page;
  let workspace: string;

  const opened = (role: string): number =>
    (lifelineLogText(server.userDataDir).match(new RegExp(`\\[queue\\] opened as ${role}`, 'g')) ?? []).length;

  async function openWindow(): Promise<Page> {
    return openDevWorkbenchPage(browser, server, workspace, await browser.newPage());
  }

  before(async () => {
    const home = newRunHome('e2e-windows');
    workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the second window is a client of the first: a job it queues runs once and shows in both', async () => {
    first = await openDevWorkbenchPage(browser, server, workspace);
    await waitUntil(() => opened('holder') === 1, 'the first window to hold the queue');
    second = await openWindow();
    await waitUntil(() => opened('client') === 1, 'the second window to open the queue as a client');

    await runCommand(second, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
    await answerInputBox(second, 'echo queued from the second window', 'Lifeline: Run Shell Command');
    for (const page of [second, first]) {
      await showLifelineViews(page);
      await page
        .locator('.monaco-list-row[aria-label^="echo queued from the second window, succeeded"]')
        .waitFor({ state: 'visible', timeout: 30_000 });
    }
    assert.equal(
      await first.locator('.monaco-list-row[aria-label^="echo queued from the second window"]').count(),
      1,
      'one job, not one per window',
    );
    await screenshot(second, 'two-windows-client');
  });

  it("when the holder's extension host dies (SIGKILL), the client takes the queue over and runs the next job", async () => {
    const [storage] = lifelineStorageFolders(server.userDataDir);
    assert.ok(storage);
    const lease = JSON.parse(readFileSync(join(storage, 'queue.lease'), 'utf8')) as { pid: number };
    assert.ok(extensionHostPids(server).includes(lease.pid), `the holder ${lease.pid} is one of the extension hosts`);
    const leases = (): number => (lifelineLogText(server.userDataDir).match(/\[queueSession\] holds the lease/g) ?? []).length;
    const before = leases();
    process.kill(lease.pid, 'SIGKILL');
    await waitUntil(() => leases() > before, 'the client window to take the lease over', 30_000);
    await runCommand(second, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
    await answerInputBox(second, 'echo after the takeover', 'Lifeline: Run Shell Command');
    await second
      .locator('.monaco-list-row[aria-label^="echo after the takeover, succeeded"]')
      .waitFor({ state: 'visible', timeout: 30_000 });
    await second
      .locator('.monaco-list-row[aria-label^="echo queued from the second window, succeeded"]')
      .waitFor({ state: 'visible', timeout: 10_000 });
    await screenshot(second, 'two-windows-after-takeover');
  });
});
