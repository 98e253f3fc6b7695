import * as assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { killBrowser, launchBrowser } from '../host/browser';
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
  let home: string;

  const opened = (role: string): number =>
    (lifelineLogText(server.userDataDir).match(new RegExp(`\\[queue\\] opened as ${role}`, 'g')) ?? []).length;

  async function openWindow(): Promise<Page> {
    return openDevWorkbenchPage(browser, server, workspace, await browser.newPage());
  }

  before(async () => {
    home = newRunHome('e2e-windows');
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

  it('when the browser of the holding window is killed, its extension host lives on unseen; the next window asks, and takes the queue and the history', async function () {
    this.timeout(240_000);
    const [storage] = lifelineStorageFolders(server.userDataDir);
    assert.ok(storage);
    const orphan = (JSON.parse(readFileSync(join(storage, 'queue.lease'), 'utf8')) as { pid: number }).pid;
    assert.ok(killBrowser(home) > 0, 'the browser of both windows is killed');
    // No "terminate" reached the server: it keeps the extension hosts for its reconnection grace time.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.ok(extensionHostPids(server).includes(orphan), 'the holding extension host lives on without its window');
    const handedOver = (): boolean =>
      /\[window\] another window of this workspace opened and this window did not answer/.test(lifelineLogText(server.userDataDir));
    assert.equal(handedOver(), false);

    const leases = (): number => (lifelineLogText(server.userDataDir).match(/\[queueSession\] holds the lease/g) ?? []).length;
    const before = leases();
    browser = await launchBrowser(home, 'browser-profile-after-crash');
    const third = await openDevWorkbenchPage(browser, server, workspace);
    await waitUntil(() => opened('client') >= 2, 'the new window to open the queue as a client of the unseen one');
    await waitUntil(() => handedOver() && leases() > before, 'the unseen holder to hand the queue to the new window', 60_000);
    assert.ok(extensionHostPids(server).includes(orphan), 'the unseen extension host still runs, without the queue');

    // The new window holds the history too: its History panel lists the runs, not "open in the other window".
    await runCommand(third, 'Lifeline: Show Job History');
    await waitUntil(
      async () => {
        for (const frame of third.frames()) {
          if (
            (await frame
              .locator('.entry', { hasText: 'echo after the takeover' })
              .count()
              .catch(() => 0)) > 0
          ) {
            return true;
          }
        }
        return false;
      },
      'the History panel of the new window to list a run',
      60_000,
    );
    await runCommand(third, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
    await answerInputBox(third, 'echo after the hand-over', 'Lifeline: Run Shell Command');
    await showLifelineViews(third);
    await third
      .locator('.monaco-list-row[aria-label^="echo after the hand-over, succeeded"]')
      .waitFor({ state: 'visible', timeout: 30_000 });
    // The open History panel adds the run, and its summary line counts it.
    await waitUntil(
      async () => {
        for (const frame of third.frames()) {
          const node = frame.locator('#summary');
          // textContent() would wait for a frame without one (the workbench's own) for 30 s.
          const summary = (await node.count().catch(() => 0)) > 0 ? await node.textContent().catch(() => null) : null;
          if (summary?.includes('Last 30 days: 3 runs')) return true;
        }
        return false;
      },
      "the History panel's summary to count the new run",
      30_000,
    );
    await screenshot(third, 'two-windows-after-hand-over');
  });
});
