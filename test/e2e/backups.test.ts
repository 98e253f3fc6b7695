import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { newRunHome, remoteUri, startCodeServer, workbenchUrl } from '../host/codeServer';
import { repoRoot, sampleWorkspace } from '../host/paths';
import type { BrowserContext, Page } from '../host/playwright';
import {
  lifelineLogText,
  lifelineStorageFolders,
  pickQuickItem,
  runCommand,
  screenshot,
  showLifelineViews,
  waitForWorkbench,
  waitUntil,
} from '../host/workbench';

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
    const home = newRunHome('e2e-backups');
    const workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    const configPath = join(workspace, '.vscode', 'lifeline.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { jobs: unknown[] };
    config.jobs.push({ name: 'Before the backup', command: 'echo before' }, { name: 'After the backup', command: 'echo after' });
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(
      workbenchUrl(server, workspace, [
        ['extensionDevelopmentPath', remoteUri(server, repoRoot)],
        ['skipWelcome', 'true'],
      ]),
    );
    await waitForWorkbench(page);
    await waitUntil(() => lifelineStorageFolders(server.userDataDir).length === 1, 'Lifeline to activate and create its storage folder');
    await waitUntil(() => /\[queue\] opened as holder/.test(lifelineLogText(server.userDataDir)), 'the queue to open');
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
