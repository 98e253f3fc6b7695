import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeServer } from '../host/codeServer';
import type { BrowserContext, Page } from '../host/playwright';
import { lifelineStorageFolders, pickQuickItem, runCommand, screenshot, showLifelineViews, waitUntil } from '../host/workbench';
import { openDevWorkbench } from '../host/devWorkbench';

describe('backups in the workbench (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;

  const row = (name: string, state: string) => page.locator(`.monaco-list-row[aria-label^="${name}, ${state}"]`);
  const backupFiles = (): string[] => {
    const folder = join(lifelineStorageFolders(server.userDataDir)[0] ?? '', 'backups');
    return existsSync(folder) ? readdirSync(folder).filter((name) => name.endsWith('.llbackup')) : [];
  };

  async function runJob(name: string): Promise<void> {
    await runCommand(page, 'Lifeline: Run Job…', { opensQuickPick: true });
    await pickQuickItem(page, name);
  }

  before(async () => {
    const opened = await openDevWorkbench('e2e-backups', {
      jobs: [
        { name: 'Before the backup', command: 'echo before' },
        { name: 'After the backup', command: 'echo after' },
      ],
    });
    ({ server, browser, page } = opened);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('creates a backup from the palette and restores it from the quick pick: the queue view shows the restored queue', async () => {
    await showLifelineViews(page);
    await runJob('Before the backup');
    await row('Before the backup', 'succeeded').waitFor({ state: 'visible', timeout: 30_000 });

    await runCommand(page, 'Lifeline: Create Backup');
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: 'backup created' })
      .waitFor({ state: 'visible', timeout: 30_000 });
    await waitUntil(() => backupFiles().length === 1, 'the backup file');

    await runJob('After the backup');
    await row('After the backup', 'succeeded').waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, 'backups-before-restore');

    await runCommand(page, 'Lifeline: Restore Backup…', { opensQuickPick: true });
    await pickQuickItem(page, 'Manual backup');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ state: 'visible', timeout: 10_000 });
    await dialog.locator('.monaco-button', { hasText: 'Restore' }).first().click();
    await page
      .locator('.notifications-toasts .notification-toast', { hasText: 'restored the backup' })
      .waitFor({ state: 'visible', timeout: 30_000 });

    await row('After the backup', 'succeeded').waitFor({ state: 'detached', timeout: 30_000 });
    await row('Before the backup', 'succeeded').waitFor({ state: 'visible', timeout: 10_000 });
    await waitUntil(() => backupFiles().some((name) => name.includes('-beforeRestore-')), 'the safety backup');
    await screenshot(page, 'backups-after-restore');
  });
});
