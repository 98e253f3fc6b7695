import * as assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeServer } from '../host/codeServer';
import type { BrowserContext, Locator, Page } from '../host/playwright';
import { answerInputBox, runCommand, screenshot, showLifelineViews, waitUntil, webviewFrame } from '../host/workbench';
import { openDevWorkbench } from '../host/devWorkbench';

/** The page's own getComputedStyle, inside Locator.evaluate. */
interface BrowserGlobals {
  getComputedStyle(node: unknown): { color: string };
}

function colourOf(locator: Locator): Promise<string> {
  return locator.evaluate((node) => (globalThis as unknown as BrowserGlobals).getComputedStyle(node).color);
}

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

  it("a paused queue says so above the Queue view's rows and in the status bar, with icons the debugger colours do not touch", async () => {
    await showLifelineViews(page);
    // The Queue view is the container's only visible view (no job is interrupted): its title and
    // actions are drawn in the side bar's title, and its message above its rows.
    const header = page.locator('.part.sidebar .composite.title');
    await header.waitFor({ state: 'visible', timeout: 30_000 });
    const message = page.locator('.part.sidebar .pane-body .message', { hasText: 'Paused' });
    assert.equal(await message.count(), 0, 'not paused: no message');
    await runCommand(page, 'Lifeline: Pause Queue');
    await message.waitFor({ state: 'visible', timeout: 30_000 });
    await runCommand(page, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
    await answerInputBox(page, 'echo waits for the unpause', 'Lifeline: Run Shell Command');
    const item = page.locator('.statusbar-item[aria-label^="Lifeline:"]').first();
    await waitUntil(async () => /paused/.test((await item.getAttribute('aria-label')) ?? ''), 'the status bar to say paused');
    // The title's Resume icon is drawn in the icon colour, not in the debugger's green or blue.
    await header.hover();
    const resume = header.locator('.action-label[aria-label^="Resume Queue"]');
    await resume.waitFor({ state: 'visible', timeout: 10_000 });
    // VS Code colours any debug-start or debug-pause icon; these are drawn like the title's other icons.
    const runJob = header.locator('.action-label[aria-label^="Run Job"]');
    assert.equal(await colourOf(resume), await colourOf(runJob));
    await screenshot(page, 'queue-view-paused');
    await runCommand(page, 'Lifeline: Resume Queue');
    await message.waitFor({ state: 'hidden', timeout: 30_000 });
    await page
      .locator('.monaco-list-row[aria-label^="echo waits for the unpause, succeeded"]')
      .waitFor({ state: 'visible', timeout: 30_000 });
  });
});
