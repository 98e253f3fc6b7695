import * as assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { newRunHome, remoteUri, startCodeServer, workbenchUrl } from '../host/codeServer';
import { repoRoot, sampleWorkspace } from '../host/paths';
import type { BrowserContext, Page } from '../host/playwright';
import { answerInputBox, lifelineStorageFolders, runCommand, screenshot, waitForWorkbench, waitUntil, webviewFrame } from '../host/workbench';

describe('Queue dashboard in a real browser (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;
  let workspace: string;

  before(async () => {
    const home = newRunHome('e2e-panel');
    workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(workbenchUrl(server, workspace, [['extensionDevelopmentPath', remoteUri(server, repoRoot)], ['skipWelcome', 'true']]));
    await waitForWorkbench(page);
    await waitUntil(() => lifelineStorageFolders(server.userDataDir).length === 1, 'Lifeline to activate and create its storage folder');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the live queue, and comes back after "Developer: Reload Window" with its filter and selection', async () => {
    for (const command of ['echo first job', 'echo second job']) {
      await runCommand(page, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
      await answerInputBox(page, command, 'Lifeline: Run Shell Command');
    }
    await runCommand(page, 'Lifeline: Open Queue Dashboard');
    const frame = webviewFrame(page);
    const filter = frame.locator('body[data-ready="true"] #filter');
    await filter.waitFor({ state: 'visible', timeout: 60_000 });
    const row = (name: string) => frame.locator(`.job[aria-label^="${name}, succeeded"]`);
    await row('echo second job').waitFor({ state: 'visible', timeout: 30_000 });
    await row('echo first job').waitFor({ state: 'visible', timeout: 30_000 });
    await row('echo second job').click();
    await filter.fill('job');
    assert.equal(await row('echo second job').getAttribute('aria-selected'), 'true');
    await screenshot(page, 'queue-panel-before-reload');

    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page);
    const restored = webviewFrame(page).locator('body[data-ready="true"] #filter');
    await restored.waitFor({ state: 'visible', timeout: 90_000 });
    assert.equal(await restored.inputValue(), 'job');
    const selected = webviewFrame(page).locator('.job[aria-selected="true"]');
    await selected.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match((await selected.getAttribute('aria-label')) ?? '', /^echo second job, succeeded/);
    const title = await page.locator('.tabs-container .tab.active .label-name').first().innerText();
    assert.equal(title.trim(), 'Lifeline Queue');
    await screenshot(page, 'queue-panel-after-reload');
  });

  it('comes back with its filter and selection in a new browser profile, where VS Code\'s own webview state is gone', async () => {
    await browser.close();
    browser = await launchBrowser(server.home, 'browser-profile-2');
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(workbenchUrl(server, workspace, [['extensionDevelopmentPath', remoteUri(server, repoRoot)], ['skipWelcome', 'true']]));
    await waitForWorkbench(page);
    await runCommand(page, 'Lifeline: Open Queue Dashboard');
    const frame = webviewFrame(page);
    const filter = frame.locator('body[data-ready="true"] #filter');
    await filter.waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal(await filter.inputValue(), 'job');
    const selected = frame.locator('.job[aria-selected="true"]');
    await selected.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match((await selected.getAttribute('aria-label')) ?? '', /^echo second job, succeeded/);
    await screenshot(page, 'queue-panel-new-profile');
  });
});
