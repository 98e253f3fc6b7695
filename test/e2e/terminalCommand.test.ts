import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { statusSchema } from '../../src/core/control/jobView';
import type { CodeServer } from '../host/codeServer';
import { startCodeServer } from '../host/codeServer';
import type { DevWorkbench } from '../host/devWorkbench';
import { openDevWorkbench, openDevWorkbenchPage } from '../host/devWorkbench';
import { launchBrowser } from '../host/browser';
import { repoRoot } from '../host/paths';
import type { BrowserContext, Page } from '../host/playwright';
import { lifelineLogText, runCommand, screenshot, showLifelineViews, waitUntil } from '../host/workbench';

/** Types a line into the focused terminal as a person would, and presses Enter. */
async function typeInTerminal(page: Page, line: string): Promise<void> {
  await page.keyboard.type(line, { delay: 2 });
  await page.keyboard.press('Enter');
}

/** A new integrated terminal, focused, once its shell is ready for input. */
async function openTerminal(page: Page): Promise<void> {
  await runCommand(page, 'Terminal: Create New Terminal');
  await page.locator('.terminal-wrapper.active .xterm').waitFor({ state: 'visible', timeout: 30_000 });
  await page.locator('.terminal-wrapper.active .xterm').click();
}

function readWhenThere(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

describe('lifeline in the integrated terminal (e2e)', function () {
  this.timeout(240_000);
  let bench: DevWorkbench | undefined;
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;

  after(async () => {
    await browser?.close();
    await server?.stop();
    await bench?.browser.close();
    await bench?.server.stop();
  });

  it("typed in a real terminal: add && wait exits with the job's code, status --json is valid, follow streams", async () => {
    bench = await openDevWorkbench('e2e-terminal');
    const { page, workspace } = bench;
    await openTerminal(page);
    const result = join(workspace, 'wait-status.txt');
    // `lifeline` is on PATH without any setup: the extension's environment for its terminals.
    await typeInTerminal(page, `id=$(lifeline add 'sleep 1; exit 3') && lifeline wait "$id"; echo $? > wait-status.txt`);
    await waitUntil(() => readWhenThere(result) !== undefined, 'the typed add && wait to finish', 60_000);
    assert.equal(readWhenThere(result)?.trim(), '3', "lifeline wait exits with the job's exit code");

    await typeInTerminal(page, 'lifeline status --json > status.json; echo done > status-done.txt');
    await waitUntil(() => readWhenThere(join(workspace, 'status-done.txt')) !== undefined, 'lifeline status --json');
    const status = statusSchema.parse(JSON.parse(readFileSync(join(workspace, 'status.json'), 'utf8')));
    assert.ok(status.jobs.some((job) => job.state === 'failed' && job.exitCode === 3));

    // follow: "first" must reach the file while the job still waits for the gate the test creates.
    const gate = join(workspace, 'gate');
    const followed = join(workspace, 'followed.txt');
    await typeInTerminal(
      page,
      `lifeline follow $(lifeline add "echo first; while [ ! -e gate ]; do sleep 0.05; done; echo second") > followed.txt; echo $? >> followed.txt`,
    );
    await waitUntil(() => (readWhenThere(followed) ?? '').includes('first'), 'follow to print the first line while the job runs', 60_000);
    assert.equal(existsSync(gate), false);
    writeFileSync(gate, '');
    await waitUntil(() => /second\n0\n$/.test(readWhenThere(followed) ?? ''), 'follow to print the rest and end with the job');
    assert.equal(readWhenThere(followed), 'first\nsecond\n0\n');
    await typeInTerminal(page, 'clear; lifeline status');
    await page.waitForTimeout(1500);
    await screenshot(page, 'terminal-lifeline-status');
  });

  it('with no window open: add and wait from a plain shell, then VS Code shows the job and its history entry', async () => {
    assert.ok(bench, 'the first test opened the workspace in VS Code (so it is trusted and has a storage folder)');
    const { workspace, home } = bench;
    const userDataDir = bench.server.userDataDir;
    await bench.browser.close();
    await bench.server.stop();
    const lifeline = join(repoRoot, 'dist', 'lifeline.js');
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [lifeline, ...args, '--workspace', workspace, '--user-data-dir', userDataDir], {
        cwd: home,
        env: { ...process.env, LIFELINE_WORKSPACE_STORAGE: '' },
      });
    const added = await run(['add', '--label', 'closed-window job', 'echo made without a window']);
    const id = added.stdout.trim();
    const waited = await run(['wait', id]);
    assert.match(waited.stdout, /Succeeded/);

    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
    const page = await openDevWorkbenchPage(browser, server, workspace);
    await waitUntil(() => /\[queue\] opened as holder/.test(lifelineLogText(server?.userDataDir ?? '')), 'the queue to open');
    await showLifelineViews(page);
    await page.locator('.monaco-list-row[aria-label^="closed-window job, succeeded"]').waitFor({ state: 'visible', timeout: 30_000 });
    await runCommand(page, 'Lifeline: Show Job History');
    let shown = false;
    await waitUntil(async () => {
      for (const frame of page.frames()) {
        if (
          (await frame
            .locator(`.entry[data-job-id^="${id}@"]`)
            .count()
            .catch(() => 0)) > 0
        ) {
          shown = true;
        }
      }
      return shown;
    }, 'the History panel to list the job');
    await screenshot(page, 'terminal-closed-window-job');
  });
});
