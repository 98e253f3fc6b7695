import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodeServer } from '../host/codeServer';
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
  webviewFrame,
} from '../host/workbench';
import { openDevWorkbench } from '../host/devWorkbench';

/**
 * Stages mark their start (with the pid of their shell, whose parent is the job's supervisor) and
 * their end, and write their declared output; each lasts long enough to be interrupted inside.
 */
function pipeline(name: string, marks: string): Record<string, unknown> {
  const stage = (stageName: string) => ({
    name: stageName,
    command: `echo "start ${stageName} $$" >> ${marks} && sleep 3 && mkdir -p out && echo ${stageName} > out/${name.replace(/\W/g, '')}-${stageName}.txt && echo "end ${stageName}" >> ${marks}`,
    outputs: [`out/${name.replace(/\W/g, '')}-${stageName}.txt`],
  });
  return { name, stages: [stage('fetch'), stage('build'), stage('report')] };
}

describe('jobs in the workbench (e2e)', () => {
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;
  let workspace: string;

  const marksOf = (file: string) => (): string[] => {
    const path = join(workspace, file);
    return existsSync(path)
      ? readFileSync(path, 'utf8')
          .trim()
          .split('\n')
          .map((line) => line.replace(/ \d+$/, ''))
      : [];
  };
  const row = (name: string, state: string) => page.locator(`.monaco-list-row[aria-label^="${name}, ${state}"]`);

  async function runJob(name: string): Promise<void> {
    await runCommand(page, 'Lifeline: Run Job…', { opensQuickPick: true });
    await pickQuickItem(page, name);
  }

  before(async () => {
    const opened = await openDevWorkbench('e2e-jobs', {
      jobs: [pipeline('Reload pipeline', 'reload-marks.txt'), pipeline('Recovery pipeline', 'recovery-marks.txt')],
    });
    ({ server, browser, page, workspace } = opened);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('a pipeline keeps running through "Developer: Reload Window" and finishes with each stage once', async () => {
    const marks = marksOf('reload-marks.txt');
    await runJob('Reload pipeline');
    await showLifelineViews(page);
    await row('Reload pipeline', 'running').waitFor({ state: 'visible', timeout: 30_000 });
    await waitUntil(() => marks().includes('start build'), 'the second stage to start', 30_000);

    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page);
    await waitUntil(() => marks().includes('end report'), 'the pipeline to finish after the reload', 60_000);
    assert.deepEqual(marks(), ['start fetch', 'end fetch', 'start build', 'end build', 'start report', 'end report']);
    await showLifelineViews(page);
    await row('Reload pipeline', 'succeeded').waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, 'jobs-after-reload');
  });

  it('a job whose supervisor is killed is interrupted, offered for recovery, and resumed at the stage it lost', async () => {
    const marks = marksOf('recovery-marks.txt');
    await runJob('Recovery pipeline');
    await waitUntil(() => marks().includes('start build'), 'the second stage to start', 30_000);
    const line = readFileSync(join(workspace, 'recovery-marks.txt'), 'utf8')
      .trim()
      .split('\n')
      .find((l) => l.startsWith('start build')) as string;
    const stagePid = Number(line.split(' ').pop());
    // The stage's shell is a child of the job's supervisor: field 4 of /proc/<pid>/stat.
    const supervisorPid = Number(
      readFileSync(`/proc/${stagePid}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ')[1],
    );
    assert.ok(supervisorPid > 1, `the supervisor of stage pid ${stagePid}`);
    process.kill(supervisorPid, 'SIGKILL');

    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: '"Recovery pipeline" was interrupted' });
    await toast.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await toast.innerText(), /resumes at stage 2\/3 "build"/);
    await showLifelineViews(page);
    await page.locator('.pane-header', { hasText: 'Recovery' }).waitFor({ state: 'visible', timeout: 10_000 });
    await row('Recovery pipeline', 'interrupted').first().waitFor({ state: 'visible', timeout: 10_000 });
    // Its orphaned stage was stopped before anything is resumed: no stage runs twice at once.
    await waitUntil(() => !existsSync(`/proc/${stagePid}`), 'the orphaned stage process to be stopped', 10_000);
    await screenshot(page, 'jobs-recovery-offered');

    await toast.locator('a.monaco-button, .monaco-button', { hasText: 'Resume' }).first().click();
    await waitUntil(() => marks().includes('end report'), 'the resumed pipeline to finish', 60_000);
    // fetch finished and its output exists: skipped. build was cut: run again from its start.
    assert.deepEqual(marks(), ['start fetch', 'end fetch', 'start build', 'start build', 'end build', 'start report', 'end report']);
    await row('Recovery pipeline', 'succeeded').waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, 'jobs-recovered');
  });

  it('a malformed .vscode/lifeline.json is reported with its line, the jobs read before stay, and the report goes once it is fixed', async () => {
    const configPath = join(workspace, '.vscode', 'lifeline.json');
    const good = readFileSync(configPath, 'utf8');
    writeFileSync(configPath, '{\n  "version": 1,\n  "jobs": [\n    { "name": "broken" },,\n  ]\n}\n');
    try {
      // A status bar message, not a notification: the API cannot withdraw a notification once the file is fixed.
      const status = page.locator('.statusbar-item', { hasText: 'lifeline.json has a problem' });
      await status.waitFor({ state: 'visible', timeout: 30_000 });
      await screenshot(page, 'jobs-malformed-config');
      await runCommand(page, 'Lifeline: Run Job…', { opensQuickPick: true });
      const rows = page.locator('.quick-input-widget .monaco-list-row .label-name');
      await waitUntil(
        async () => (await rows.allInnerTexts()).some((text) => text.includes('Reload pipeline')),
        'the jobs read before to stay on offer',
        10_000,
      );
      const placeholder = await page.locator('.quick-input-widget input').getAttribute('placeholder');
      assert.match(placeholder ?? '', /not valid JSON: value expected \(line 4, column 26\)/);
      await page.keyboard.press('Escape');
      writeFileSync(configPath, good);
      await status.waitFor({ state: 'hidden', timeout: 30_000 });
    } finally {
      writeFileSync(configPath, good);
    }
  });

  it('the History panel lists finished runs, searches them, and comes back after a reload with its search and selection', async () => {
    await runCommand(page, 'Lifeline: Show Job History');
    const frame = webviewFrame(page);
    const search = frame.locator('body[data-ready="true"] #search');
    await search.waitFor({ state: 'visible', timeout: 60_000 });
    const entry = (name: string) => frame.locator(`.entry[aria-label^="${name}, succeeded"]`);
    await entry('Reload pipeline').waitFor({ state: 'visible', timeout: 30_000 });
    await entry('Recovery pipeline').waitFor({ state: 'visible', timeout: 30_000 });
    await search.fill('recovery');
    await waitUntil(async () => (await frame.locator('.entry').count()) === 1, 'the search to leave one entry', 10_000);
    await entry('Recovery pipeline').click();
    await frame.locator('#details pre.command').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await frame.locator('#details pre.command').innerText(), /start build/);
    await screenshot(page, 'history-panel-before-reload');

    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page);
    const restored = webviewFrame(page);
    const restoredSearch = restored.locator('body[data-ready="true"] #search');
    await restoredSearch.waitFor({ state: 'visible', timeout: 90_000 });
    assert.equal(await restoredSearch.inputValue(), 'recovery');
    const selected = restored.locator('.entry[aria-selected="true"]');
    await selected.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match((await selected.getAttribute('aria-label')) ?? '', /^Recovery pipeline, succeeded/);
    await restored.locator('#details pre.command').waitFor({ state: 'visible', timeout: 10_000 });
    await screenshot(page, 'history-panel-after-reload');
  });

  it('a damaged queue journal is set aside in quarantine and reported after a reload, never silently reset', async () => {
    const [storage] = lifelineStorageFolders(server.userDataDir);
    assert.ok(storage);
    const queueDir = join(storage, 'queue');
    const journals = readdirSync(queueDir)
      .filter((name) => name.endsWith('.journal'))
      .sort((a, b) => statSync(join(queueDir, b)).size - statSync(join(queueDir, a)).size);
    const journal = journals[0];
    assert.ok(journal, `a queue journal in ${readdirSync(queueDir).join(', ')}`);
    // Damage inside the journal, with good records after it: not a torn tail but real corruption.
    const bytes = readFileSync(join(queueDir, journal));
    const middle = Math.floor(bytes.length / 2);
    for (let i = middle; i < middle + 16; i++) bytes[i] = (bytes[i] ?? 0) ^ 0xff;
    writeFileSync(join(queueDir, journal), bytes);

    await runCommand(page, 'Developer: Reload Window');
    await waitForWorkbench(page);
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'part of the saved queue was damaged' });
    await toast.waitFor({ state: 'visible', timeout: 60_000 });
    assert.ok(
      existsSync(join(queueDir, 'quarantine')) || existsSync(join(storage, 'quarantine')),
      'the damaged file was kept in quarantine',
    );
    assert.match(lifelineLogText(server.userDataDir), /\[queue\] .*was damaged .* and moved to /);
    // The records before the damage verify: the jobs they hold are still there.
    await showLifelineViews(page);
    await page.locator('.monaco-list-row[aria-label^="Reload pipeline, "]').waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, 'jobs-damaged-queue-reported');
  });
});
