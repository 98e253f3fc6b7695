import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeServer } from '../host/codeServer';
import type { BrowserContext, Page } from '../host/playwright';
import { answerInputBox, runCommand, screenshot, waitUntil, webviewFrame } from '../host/workbench';
import { openDevWorkbench } from '../host/devWorkbench';

/**
 * Issue 17: the status bar item and the Storage Health report as a person sees them in the
 * browser (screenshots in test-results/: status-bar-running.png, storage-health.png).
 */
describe('status bar and Storage Health in the workbench (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;
  let workspace: string;

  before(async () => {
    const opened = await openDevWorkbench('e2e-status');
    ({ server, browser, page, workspace } = opened);
  });

  after(async () => {
    if (workspace) writeFileSync(join(workspace, 'status-release'), '');
    await browser?.close();
    await server?.stop();
  });

  it('shows a running job in the status bar, hides when it ends, and opens the report from the palette', async () => {
    const item = page.locator('.statusbar-item[aria-label^="Lifeline:"]');
    assert.equal(await item.first().isVisible(), false, 'idle: no item');
    await runCommand(page, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
    await answerInputBox(page, 'while [ ! -f status-release ]; do sleep 0.2; done', 'Lifeline: Run Shell Command');
    await item.first().waitFor({ state: 'visible', timeout: 30_000 });
    await waitUntil(async () => ((await item.first().getAttribute('aria-label')) ?? '').startsWith('Lifeline: 1 running'), 'one running');
    await screenshot(page, 'status-bar-running');

    await runCommand(page, 'Lifeline: Show Storage Health');
    await page.locator('.tab', { hasText: 'Lifeline Storage Health' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    // The Markdown preview renders the report in its webview.
    await webviewFrame(page)
      .locator('h2:has-text("What running jobs survive on this machine")')
      .waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, 'storage-health');

    writeFileSync(join(workspace, 'status-release'), '');
    await item.first().waitFor({ state: 'hidden', timeout: 30_000 });
  });
});
