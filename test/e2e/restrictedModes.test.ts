import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { newRunHome, startCodeServer, workbenchUrl } from '../host/codeServer';
import { developmentPayload } from '../host/devWorkbench';
import { repoRoot, sampleWorkspace } from '../host/paths';
import type { BrowserContext, Page } from '../host/playwright';
import {
  lifelineLogText,
  lifelineStorageFolders,
  runCommand,
  screenshot,
  waitForWorkbench,
  waitUntil,
  webviewFrame,
} from '../host/workbench';

describe('restricted modes (e2e)', () => {
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;

  afterEach(async () => {
    await browser?.close();
    await server?.stop();
    browser = undefined;
    server = undefined;
  });

  async function open(home: string, folder: string | undefined, workspaceTrust: boolean): Promise<Page> {
    server = await startCodeServer({ home, workspaceTrust });
    browser = await launchBrowser(home);
    const page = browser.pages()[0] ?? (await browser.newPage());
    const payload = developmentPayload(server);
    const url = folder
      ? workbenchUrl(server, folder, payload)
      : `http://127.0.0.1:${server.port}/?ew=true&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    await waitForWorkbench(page);
    return page;
  }

  it('in an untrusted workspace (Restricted Mode) the dashboard says that nothing runs', async () => {
    const home = newRunHome('e2e-untrusted');
    const workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    const page = await open(home, workspace, true);
    await waitUntil(() => lifelineStorageFolders(join(home, 'user-data')).length === 1, 'Lifeline to activate in Restricted Mode');
    await runCommand(page, 'Lifeline: Open Queue Dashboard');
    const badge = webviewFrame(page).locator('body[data-ready="true"] #trust');
    await badge.waitFor({ state: 'visible', timeout: 60_000 });
    assert.equal((await badge.innerText()).trim(), 'restricted: nothing runs');
    await screenshot(page, 'untrusted-dashboard');

    // The Queue view says why nothing runs, and the queue was never opened: no lease, no journal.
    await page.locator('.part.activitybar li.action-item a[aria-label^="Lifeline"]').click();
    await page.locator('.welcome-view-content', { hasText: 'Restricted Mode' }).waitFor({ state: 'visible', timeout: 30_000 });
    const [storage] = lifelineStorageFolders(join(home, 'user-data'));
    assert.ok(storage && !existsSync(join(storage, 'queue')), 'the queue stays closed in Restricted Mode');
    assert.ok(!lifelineLogText(join(home, 'user-data')).includes('[queue] opened'));
    // `lifeline` and agents outside VS Code read the trust VS Code gave: here, none (docs/cli.md).
    await waitUntil(() => existsSync(join(storage, 'trust.json')), 'the trust record');
    assert.equal((JSON.parse(readFileSync(join(storage, 'trust.json'), 'utf8')) as { trusted: boolean }).trusted, false);
    const run = spawnSync(
      process.execPath,
      [join(repoRoot, 'dist', 'lifeline.js'), 'add', 'echo never', '--workspace', workspace, '--user-data-dir', join(home, 'user-data')],
      {
        encoding: 'utf8',
        env: { ...process.env, LIFELINE_WORKSPACE_STORAGE: '' },
      },
    );
    assert.equal(run.status, 69, run.stderr);
    assert.match(run.stderr, /not trusted/);
    assert.ok(!existsSync(join(storage, 'queue')), 'the command opened no queue either');
    await screenshot(page, 'untrusted-queue-view');
  });

  it('with no folder open it activates without a storage folder and its commands still work', async () => {
    const home = newRunHome('e2e-nofolder');
    const page = await open(home, undefined, false);
    await waitUntil(
      () => lifelineLogText(join(home, 'user-data')).includes('no folder is open'),
      'Lifeline to activate in an empty window',
    );
    await runCommand(page, 'Lifeline: Show Log');
    const logText = async () => (await page.locator('.part.panel .view-lines').first().innerText()).replace(/\u00a0/g, ' ');
    await waitUntil(async () => (await logText()).includes('no folder is open'), 'the no-folder line in the Lifeline log');
    assert.deepEqual(lifelineStorageFolders(join(home, 'user-data')), []);
    await screenshot(page, 'no-folder-log');
  });
});
