import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeServer } from '../host/codeServer';
import type { BrowserContext, Page } from '../host/playwright';
import { lifelineLogText, lifelineStorageFolders, pickQuickItem, runCommand, screenshot, waitUntil } from '../host/workbench';
import { openDevWorkbench } from '../host/devWorkbench';

describe('.vscode/lifeline.json in the workbench (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;
  let home: string;
  let configPath: string;
  let good: string;

  before(async () => {
    const opened = await openDevWorkbench('e2e-config', {
      realPath: true,
      jobs: [{ name: 'Outside', command: 'pwd -P > lifeline-outside-pwd.txt', cwd: '..' }],
    });
    ({ home, configPath, server, browser, page } = opened);
    good = readFileSync(configPath, 'utf8');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  const log = (): string => lifelineLogText(server.userDataDir);
  const dialog = () => page.locator('.monaco-dialog-box');

  async function runOutside(): Promise<void> {
    await runCommand(page, 'Lifeline: Run Job…', { opensQuickPick: true });
    await pickQuickItem(page, 'Outside');
  }

  it('asks once before a job of the file runs outside the workspace folder, and remembers the answer', async () => {
    const marker = join(home, 'lifeline-outside-pwd.txt');
    rmSync(marker, { force: true });

    await runOutside();
    await dialog().waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(
      await dialog().innerText(),
      new RegExp(`Allow job "Outside" to run in ${home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} outside the workspace\\?`),
    );
    await screenshot(page, 'config-outside-folder-asked');
    await dialog().locator('.monaco-button', { hasText: 'Cancel' }).click();
    await waitUntil(
      () => log().includes('"Outside" not run: its folder outside the workspace was not allowed'),
      'the refusal to be logged',
      10_000,
    );
    assert.equal(existsSync(marker), false, 'nothing ran');

    await runOutside();
    await dialog().waitFor({ state: 'visible', timeout: 30_000 });
    await dialog().locator('.monaco-button', { hasText: 'Allow' }).click();
    await waitUntil(() => existsSync(marker), 'the allowed job to run', 30_000);
    assert.equal(readFileSync(marker, 'utf8').trim(), home);
    const [storage] = lifelineStorageFolders(server.userDataDir);
    assert.ok(storage);
    const allowed = JSON.parse(readFileSync(join(storage, 'allowed-folders.json'), 'utf8')) as {
      allowed: { jobName: string; folder: string }[];
    };
    assert.deepEqual(
      allowed.allowed.map((entry) => [entry.jobName, entry.folder]),
      [['Outside', home]],
    );

    // Asked once: the second run starts without a question (a dialog would hold it back).
    rmSync(marker);
    await runOutside();
    await waitUntil(() => existsSync(marker), 'the job to run again without asking', 30_000);
    assert.equal(await dialog().count(), 0);
  });

  it('logs a problem saved from the editor once, and its fix', async () => {
    const before = log().length;
    const lines = (): string[] =>
      log()
        .slice(before)
        .split('\n')
        .filter((line) => line.includes('[workspaceJobs]'));
    await runCommand(page, 'Lifeline: Edit Job Definitions');
    const editor = page.locator('.monaco-editor[data-uri$="lifeline.json"] .view-lines');
    await editor.waitFor({ state: 'visible', timeout: 30_000 });
    await editor.click();
    // `  "version": 1,` becomes `  "version": 10,`, saved as a person saves.
    await page.keyboard.press('Control+G');
    await page.keyboard.type('3');
    await page.keyboard.press('Enter');
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.type('0');
    await page.keyboard.press('Control+S');
    await waitUntil(() => lines().some((line) => line.includes('version')), 'the problem to be logged', 30_000);
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Control+S');
    await waitUntil(
      () => lines().some((line, index) => index > 0 && line.includes('job definition(s) in')),
      'the fix to be logged',
      30_000,
    );
    await screenshot(page, 'config-saved-from-editor');
    assert.equal(lines().length, 2, lines().join('\n'));
    assert.match(lines()[0] ?? '', /version: expected 1, got 10 \(line 3, column 14\)/);
  });

  it('logs a malformed file written by another program once, naming its field, line and column', async () => {
    const before = log().length;
    const warnings = (): string[] =>
      log()
        .slice(before)
        .split('\n')
        .filter((line) => line.includes('[workspaceJobs]') && line.includes('version'));
    writeFileSync(configPath, good.replace('"version": 1', '"version": "1"'));
    await waitUntil(() => warnings().length > 0, 'the problem to be logged', 30_000);
    writeFileSync(configPath, good);
    // Reads are in order: once the fixed file is logged, every read of the broken one has been.
    await waitUntil(
      () => {
        const text = log().slice(before);
        return text.indexOf('job definition(s) in .vscode/lifeline.json', text.indexOf('version')) > 0;
      },
      'the fixed file to be logged',
      30_000,
    );
    assert.equal(warnings().length, 1, warnings().join('\n'));
    assert.match(warnings()[0] ?? '', /\[workspaceJobs\] \.vscode\/lifeline\.json: version: expected 1, got "1" \(line 3, column 14\)\./);
  });
});
