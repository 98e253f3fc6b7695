import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { extensionHostPids, installVsix, newRunHome, startCodeServer, workbenchUrl } from '../host/codeServer';
import { repoRoot, sampleWorkspace } from '../host/paths';
import type { BrowserContext, Frame, Page } from '../host/playwright';
import {
  answerInputBox,
  lifelineLogText,
  lifelineStorageFolders,
  runCommand,
  screenshot,
  waitForWorkbench,
  waitUntil,
} from '../host/workbench';

const QUEUE = '#filter';
const HISTORY = '#search';
/** A job that runs while the panels are reloaded: each reload's click cancels it or runs it again. */
const LONG_JOB = 'sleep 300';
const RELOADS = 20;

/**
 * The content frame of the live page of a panel: its ready body holds `marker`. Pages marked
 * `data-test-mark` (before a crash) are the old ones, which no extension host answers.
 */
async function panelFrame(page: Page, marker: string, what: string, timeoutMs = 60_000): Promise<Frame> {
  let found: Frame | undefined;
  await waitUntil(
    async () => {
      for (const frame of page.frames()) {
        const count = await frame
          .locator(`body[data-ready="true"]:not([data-test-mark]) ${marker}`)
          .count()
          .catch(() => 0);
        if (count > 0) {
          found = frame;
          return true;
        }
      }
      return false;
    },
    what,
    timeoutMs,
  );
  return found as Frame;
}

/** Tabs of the workbench (in every editor group) whose label is `label`. */
async function tabCount(page: Page, label: string): Promise<number> {
  const labels = await page.locator('.tabs-container .tab .label-name').allInnerTexts();
  return labels.filter((text) => text.trim() === label).length;
}

/** A click the extension host must act on: cancel the long job, or run it again; the dashboard shows the outcome. */
async function queueRoundTrip(frame: Frame): Promise<void> {
  const row = frame.locator(`.job[aria-label^="${LONG_JOB}, "]`);
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  const running = ((await row.getAttribute('aria-label')) ?? '').startsWith(`${LONG_JOB}, running`);
  // A row's buttons show on the selected row.
  await row.click();
  await row.locator(`button[data-action="${running ? 'cancel' : 'retry'}"]`).click();
  await frame
    .locator(`.job[aria-label^="${LONG_JOB}, ${running ? 'cancelled' : 'running'}"]`)
    .waitFor({ state: 'visible', timeout: 30_000 });
}

/** A filter chip: the panel asks the host for the page of entries and shows its answer. */
async function historyRoundTrip(frame: Frame): Promise<void> {
  const chip = frame.locator('#states .chip[data-state="cancelled"]');
  await chip.waitFor({ state: 'visible', timeout: 30_000 });
  const pressing = (await chip.getAttribute('aria-pressed')) !== 'true';
  await chip.click();
  if (pressing) {
    // Only cancelled runs: the succeeded one is gone and a cancelled one is listed.
    await frame.locator('.entry.state-cancelled').first().waitFor({ state: 'visible', timeout: 30_000 });
    await waitUntil(
      async () => (await frame.locator('.entry.state-succeeded').count()) === 0,
      'the filter to leave only cancelled runs',
      30_000,
    );
  } else {
    await frame.locator('.entry.state-succeeded').first().waitFor({ state: 'visible', timeout: 30_000 });
  }
}

/** Panels keep the same view state, group and position when re-created: each is in its own group. */
async function groupOf(page: Page, label: string): Promise<number> {
  const groups = page.locator('.editor-group-container');
  const count = await groups.count();
  for (let i = 0; i < count; i++) {
    const labels = await groups.nth(i).locator('.tabs-container .tab .label-name').allInnerTexts();
    if (labels.some((text) => text.trim() === label)) return i + 1;
  }
  return 0;
}

describe('Lifeline panels come back live after reloads and extension-host crashes (e2e, installed .vsix)', () => {
  let home: string;
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;
  const recreations = () => (lifelineLogText(server.userDataDir).match(/\[panels\] .* re-created it/g) ?? []).length;
  const replacements = () => (lifelineLogText(server.userDataDir).match(/\[panels\] .* replacing it/g) ?? []).length;

  before(async function () {
    this.timeout(600_000);
    home = newRunHome('e2e-panels');
    const vsix = join(home, 'lifeline.vsix');
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'package.mjs'), '--out', vsix], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    installVsix(home, vsix);
    const workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(workbenchUrl(server, workspace));
    await waitForWorkbench(page);
    await waitUntil(() => lifelineStorageFolders(server.userDataDir).length === 1, 'the installed Lifeline to activate');

    for (const command of ['echo finished before the reloads', LONG_JOB]) {
      await runCommand(page, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
      await answerInputBox(page, command, 'Lifeline: Run Shell Command');
    }
    // The dashboard in the first editor group, the History panel moved into a second one.
    await runCommand(page, 'Lifeline: Open Queue Dashboard');
    await panelFrame(page, QUEUE, 'the dashboard to draw');
    await runCommand(page, 'Lifeline: Show Job History');
    await panelFrame(page, HISTORY, 'the History panel to draw');
    await runCommand(page, 'View: Move Editor into Right Group');
    await waitUntil(
      async () => (await groupOf(page, 'Lifeline History')) === 2 && (await groupOf(page, 'Lifeline Queue')) === 1,
      'the two panels to be in two editor groups',
    );
    // A cancelled run for the History panel's filter to find.
    await queueRoundTrip(await panelFrame(page, QUEUE, 'the dashboard to draw again'));
    await historyRoundTrip(await panelFrame(page, HISTORY, 'the History panel to draw in its group'));
    await screenshot(page, 'panels-two-groups');
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      await screenshot(page, `panels-failed-${(this.currentTest.title.match(/\w+/g) ?? []).slice(0, 4).join('-')}`);
    }
  });

  after(async () => {
    // The long job must not outlive the test in its detached supervisor.
    const frame = page && (await panelFrame(page, QUEUE, 'the dashboard, to cancel the long job', 30_000).catch(() => undefined));
    const row = frame?.locator(`.job[aria-label^="${LONG_JOB}, running"]`);
    if (row && (await row.count()) > 0) {
      await row.click();
      await row.locator('button[data-action="cancel"]').click();
      await frame?.locator(`.job[aria-label^="${LONG_JOB}, cancelled"]`).waitFor({ state: 'visible', timeout: 30_000 });
    }
    await browser?.close();
    await server?.stop();
  });

  it(`both panels draw and answer a click after each of ${RELOADS} "Developer: Reload Window" in a row`, async function () {
    this.timeout(RELOADS * 120_000);
    const perReload: number[] = [];
    for (let reload = 1; reload <= RELOADS; reload++) {
      const before = recreations();
      const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame(), timeout: 60_000 });
      await runCommand(page, 'Developer: Reload Window');
      await navigated;
      await waitForWorkbench(page);
      const queue = await panelFrame(page, QUEUE, `the dashboard to draw after reload ${reload}`, 90_000);
      const history = await panelFrame(page, HISTORY, `the History panel to draw after reload ${reload}`, 90_000);
      await queueRoundTrip(queue);
      await historyRoundTrip(history);
      assert.equal(await tabCount(page, 'Lifeline Queue'), 1, `one dashboard tab after reload ${reload}`);
      assert.equal(await tabCount(page, 'Lifeline History'), 1, `one History tab after reload ${reload}`);
      assert.equal(await groupOf(page, 'Lifeline Queue'), 1, `the dashboard stays in the first group after reload ${reload}`);
      assert.equal(await groupOf(page, 'Lifeline History'), 2, `the History panel stays in the second group after reload ${reload}`);
      perReload.push(recreations() - before);
      if (reload === 1) await screenshot(page, 'panels-after-reload-1');
    }
    await screenshot(page, `panels-after-reload-${RELOADS}`);
    const needed = perReload.filter((count) => count > 0).length;
    process.stdout.write(
      `      ${needed} of ${RELOADS} reloads needed a re-created panel (${perReload.reduce((a, b) => a + b, 0)} re-creations: ${perReload.join(' ')})\n`,
    );
  });

  it('after an extension-host crash (SIGKILL) both panels are live again without a reload, once each, and a job finished after the crash shows', async function () {
    this.timeout(300_000);
    const finishing = 'sleep 8 && echo finished after the crash';
    await runCommand(page, 'Lifeline: Run Shell Command…', { opensQuickPick: true });
    await answerInputBox(page, finishing, 'Lifeline: Run Shell Command');
    const oldQueue = await panelFrame(page, QUEUE, 'the dashboard before the crash');
    await oldQueue.locator(`.job[aria-label^="${finishing}, running"]`).waitFor({ state: 'visible', timeout: 30_000 });
    const oldHistory = await panelFrame(page, HISTORY, 'the History panel before the crash');
    // The pages of the crashed host stay on screen until replaced: mark them to tell them apart.
    for (const frame of [oldQueue, oldHistory]) await frame.evaluate("document.body.dataset.testMark = 'before-crash'");

    let reloaded = false;
    page.on('framenavigated', (frame) => void (frame === page.mainFrame() && (reloaded = true)));
    const [hostPid, ...others] = extensionHostPids(server);
    assert.ok(hostPid !== undefined && others.length === 0, `one extension host, found ${[hostPid, ...others].join(', ')}`);
    const activations = () => (lifelineLogText(server.userDataDir).match(/\[activate\] Lifeline 0\.1\.0 active/g) ?? []).length;
    const activationsBefore = activations();
    const replacedBefore = replacements();
    process.kill(hostPid, 'SIGKILL');
    await waitUntil(() => activations() > activationsBefore, 'Lifeline to activate in the restarted extension host', 90_000);

    const queue = await panelFrame(page, QUEUE, 'a live dashboard after the crash', 60_000);
    const history = await panelFrame(page, HISTORY, 'a live History panel after the crash', 60_000);
    await screenshot(page, 'panels-after-crash');
    // The job ran on in its supervisor: the live dashboard shows its end, which no dead page could.
    await queue.locator(`.job[aria-label^="${finishing}, succeeded"]`).waitFor({ state: 'visible', timeout: 60_000 });
    await queueRoundTrip(queue);
    await historyRoundTrip(history);
    assert.equal(await tabCount(page, 'Lifeline Queue'), 1, 'one dashboard tab after the crash');
    assert.equal(await tabCount(page, 'Lifeline History'), 1, 'one History tab after the crash');
    assert.equal(await groupOf(page, 'Lifeline Queue'), 1, 'the dashboard is still in the first group');
    assert.equal(await groupOf(page, 'Lifeline History'), 2, 'the History panel is still in the second group');
    assert.equal(await page.locator('iframe.webview').count(), 2, 'the dead pages are gone');

    await runCommand(page, 'Lifeline: Open Queue Dashboard');
    await panelFrame(page, QUEUE, 'the dashboard after "Open Queue Dashboard"');
    assert.equal(await tabCount(page, 'Lifeline Queue'), 1, '"Open Queue Dashboard" makes no second tab');
    assert.equal(reloaded, false, 'the window was not reloaded');
    assert.ok(replacements() - replacedBefore >= 2, 'both panels were replaced by the new extension host');
    await screenshot(page, 'panels-after-crash-open-again');
  });
});
