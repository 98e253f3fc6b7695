import * as assert from 'node:assert/strict';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { openDevWorkbench, openDevWorkbenchPage } from '../host/devWorkbench';
import type { BrowserContext, Page } from '../host/playwright';
import { answerInputBox, lifelineLogText, pickQuickItem, runCommand, screenshot, showLifelineViews } from '../host/workbench';

/**
 * Encryption at rest through the browser: code-server keeps SecretStorage in the browser, so a
 * second browser profile is exactly "a machine whose keychain does not have the key".
 */
describe('encryption at rest in the workbench (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext | undefined;
  let home = '';
  let workspace = '';

  const row = (page: Page, name: string, state: string) => page.locator(`.monaco-list-row[aria-label^="${name}, ${state}"]`);
  const dialog = (page: Page) => page.locator('.monaco-dialog-box');

  before(async () => {
    const opened = await openDevWorkbench('e2e-encryption', { jobs: [{ name: 'Secret job', command: 'echo e2e-secret-output' }] });
    ({ server, browser, home, workspace } = opened);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('enables encryption from the palette, and another browser without the key asks for the recovery key: nothing lost', async () => {
    let page = browser?.pages()[0] as Page;
    await showLifelineViews(page);
    await runCommand(page, 'Lifeline: Run Job…', { opensQuickPick: true });
    await pickQuickItem(page, 'Secret job');
    await row(page, 'Secret job', 'succeeded').waitFor({ state: 'visible', timeout: 30_000 });

    await runCommand(page, 'Lifeline: Enable Encryption…');
    await dialog(page).waitFor({ state: 'visible', timeout: 10_000 });
    const note = (await dialog(page).textContent()) ?? '';
    assert.match(note, /runs in a browser/, 'it says where the key will live before enabling');
    await screenshot(page, 'encryption-confirm');
    await dialog(page).locator('.monaco-button', { hasText: 'Enable Encryption' }).first().click();
    await dialog(page).locator('.monaco-button', { hasText: 'Copy' }).waitFor({ state: 'visible', timeout: 10_000 });
    const recoveryKey = /([0-9A-Z]{8}(?:-[0-9A-Z]{8}){7})/.exec((await dialog(page).textContent()) ?? '')?.[1];
    assert.ok(recoveryKey, 'the recovery key is shown');
    await screenshot(page, 'encryption-recovery-key');
    await dialog(page).locator('.monaco-button', { hasText: 'Copy' }).first().click();
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: 'encryption is on' })
      .waitFor({ state: 'visible', timeout: 30_000 });

    // Another browser profile: its SecretStorage does not have the key.
    await browser?.close();
    browser = await launchBrowser(home, 'second-browser');
    page = await openDevWorkbenchPage(browser, server, workspace);
    await showLifelineViews(page);
    const locked = page.locator('.welcome-view-content', { hasText: 'is encrypted' });
    await locked.waitFor({ state: 'visible', timeout: 60_000 });
    await screenshot(page, 'encryption-locked-view');
    assert.equal(await row(page, 'Secret job', 'succeeded').count(), 0, 'nothing is shown without the key');

    await locked.locator('a', { hasText: 'Enter Recovery Key' }).click();
    await answerInputBox(page, recoveryKey.toLowerCase(), 'Lifeline: Enter Recovery Key');
    await row(page, 'Secret job', 'succeeded').waitFor({ state: 'visible', timeout: 60_000 });
    await screenshot(page, 'encryption-unlocked');
    assert.match(lifelineLogText(server.userDataDir), /the recovery key of key [0-9a-f]{16} was entered/);
  });
});
