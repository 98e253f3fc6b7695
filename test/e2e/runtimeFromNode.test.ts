import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { newRunHome, startCodeServer } from '../host/codeServer';
import { openDevWorkbenchPage } from '../host/devWorkbench';
import { repoRoot, sampleWorkspace } from '../host/paths';
import type { BrowserContext, Frame, Page } from '../host/playwright';
import { lifelineLogText, runCommand, screenshot, showLifelineViews, waitUntil } from '../host/workbench';

const NAME = 'ran from plain node';

/** The content frame of the History panel, once it has drawn. */
async function historyFrame(page: Page): Promise<Frame> {
  let found: Frame | undefined;
  await waitUntil(async () => {
    for (const frame of page.frames()) {
      if (
        (await frame
          .locator('body[data-ready="true"] #search')
          .count()
          .catch(() => 0)) > 0
      ) {
        found = frame;
        return true;
      }
    }
    return false;
  }, 'the History panel to draw');
  return found as Frame;
}

/**
 * The workspace runtime is the one way into a workspace: a plain Node process (no VS Code) opens
 * it on the storage folder the extension will use, runs a job and closes; the extension then
 * opens the same folder and shows that job in its queue and its history.
 */
describe('a workspace opened from plain Node, then in VS Code (e2e)', () => {
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('the extension sees the job a plain Node runtime ran, in the Queue view and the History panel', async () => {
    const home = newRunHome('e2e-runtime');
    const workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    // Where startCodeServer puts the user data, and so the extension its globalStorage.
    const globalStorage = join(home, 'user-data', 'User', 'globalStorage', 'lifeline.lifeline');
    const script = join(__dirname, 'fixtures', 'plainNodeRuntime.js');
    const config = {
      globalStorage,
      workspace,
      distDir: join(repoRoot, 'dist'),
      name: NAME,
      command: 'echo hello from a plain node runtime',
    };
    const { stdout } = await promisify(execFile)(process.execPath, [script, JSON.stringify(config)], { cwd: workspace });
    const { entryId } = JSON.parse(stdout) as { jobId: string; entryId: string };

    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
    const page = await openDevWorkbenchPage(browser, server, workspace);
    const userDataDir = server.userDataDir;
    await waitUntil(
      () => /\[queue\] opened as holder with 1 job\(s\)/.test(lifelineLogText(userDataDir)),
      'the extension to open the queue with the job the plain Node runtime ran',
    );

    await showLifelineViews(page);
    await page.locator(`.monaco-list-row[aria-label^="${NAME}, succeeded"]`).waitFor({ state: 'visible', timeout: 30_000 });

    await runCommand(page, 'Lifeline: Show Job History');
    const history = await historyFrame(page);
    const entry = history.locator(`.entry[data-job-id="${entryId}"]`);
    await entry.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match((await entry.getAttribute('aria-label')) ?? '', new RegExp(`^${NAME}, succeeded`));
    assert.doesNotMatch(
      lifelineLogText(userDataDir),
      /recorded \d+ finished job\(s\) the history had not seen/,
      'the history already held it: the extension recorded nothing',
    );
    await screenshot(page, 'runtime-from-plain-node');
  });
});
