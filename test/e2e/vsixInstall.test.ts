import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import type { CodeServer } from '../host/codeServer';
import { extensionHostPids, installVsix, newRunHome, scratchEnv, startCodeServer, workbenchUrl } from '../host/codeServer';
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

/** Each stage marks its start and end, sleeps long enough for the host to be killed inside it, and writes its declared output. */
function crashPipeline(): Record<string, unknown> {
  const stage = (name: string) => ({
    name,
    command: `echo "start ${name}" >> marks.txt && sleep 4 && mkdir -p out && echo ${name} > out/${name}.txt && echo "end ${name}" >> marks.txt`,
    outputs: [`out/${name}.txt`],
  });
  return { name: 'Crash pipeline', stages: [stage('fetch'), stage('build'), stage('report')] };
}

describe('the packaged .vsix (e2e)', () => {
  let home: string;
  let server: CodeServer;
  let browser: BrowserContext;
  let page: Page;

  before(async () => {
    home = newRunHome('e2e-vsix');
    const vsix = join(home, 'lifeline.vsix');
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'package.mjs'), '--out', vsix], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    installVsix(home, vsix);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('installs into code-server with --install-extension, holding only what runs', () => {
    const installed = readdirSync(join(home, 'extensions')).filter((name) => name.startsWith('lifeline.lifeline-'));
    assert.equal(installed.length, 1, `installed extensions: ${installed.join(', ')}`);
    const dir = join(home, 'extensions', installed[0] as string);
    for (const file of [
      'package.json',
      'dist/extension.js',
      'dist/supervisor.js',
      'dist/sql-wasm.wasm',
      'dist/webviews/queuePanel.js',
      'dist/lifeline.schema.json',
    ]) {
      assert.ok(existsSync(join(dir, file)), `${file} is in the .vsix`);
    }
    for (const file of ['src', 'node_modules', 'test', 'dist/extension.js.map']) {
      assert.ok(!existsSync(join(dir, file)), `${file} is not in the .vsix`);
    }
  });

  it('activates in a real VS Code and shows its log from the command palette', async () => {
    const workspace = join(home, 'workspace');
    cpSync(sampleWorkspace, workspace, { recursive: true });
    const configPath = join(workspace, '.vscode', 'lifeline.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { jobs: unknown[] };
    config.jobs.push(crashPipeline());
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    server = await startCodeServer({ home });
    browser = await launchBrowser(home);
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(workbenchUrl(server, workspace));
    await waitForWorkbench(page);
    await waitUntil(
      () => lifelineStorageFolders(server.userDataDir).length === 1,
      'the installed Lifeline to activate and create its storage folder',
    );
    await page.locator('.part.activitybar .action-item a[aria-label^="Lifeline"]').waitFor({ state: 'visible', timeout: 30_000 });

    await runCommand(page, 'Lifeline: Show Log');
    // Monaco renders spaces as no-break spaces.
    const lines = page.locator('.part.panel .view-lines').first();
    // The Output view's first opening can take long on a loaded machine (VS Code 1.139 in CI).
    await lines.waitFor({ state: 'visible', timeout: 60_000 }).catch(async (error: unknown) => {
      await screenshot(page, 'vsix-show-log-failed');
      throw error;
    });
    const logText = async () => (await lines.innerText()).replace(/\u00a0/g, ' ');
    // The panel follows the end of the log and draws only the lines in view: the activation line,
    // the first, is scrolled out once start-up has logged a screenful, so go to the top first.
    await lines.click();
    await page.keyboard.press('Control+Home');
    await waitUntil(async () => (await logText()).includes('[activate] Lifeline 0.1.0 active'), 'the activation line in the Lifeline log');
    await screenshot(page, 'vsix-installed-log');
  });

  it('a pipeline started from the palette finishes, each stage once, although its extension host is killed (SIGKILL) mid-pipeline', async () => {
    const marks = join(home, 'workspace', 'marks.txt');
    const lines = (): string[] => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);
    await runCommand(page, 'Lifeline: Run Job…', { opensQuickPick: true });
    await pickQuickItem(page, 'Crash pipeline');
    await showLifelineViews(page);
    const row = (state: string) => page.locator(`.monaco-list-row[aria-label^="Crash pipeline, ${state}"]`);
    await row('running').waitFor({ state: 'visible', timeout: 30_000 });
    // Killed inside the second stage: the first has finished, the second runs in its supervisor.
    await waitUntil(() => lines().includes('start build'), 'the second stage to start', 30_000);
    await screenshot(page, 'vsix-pipeline-running');

    const [hostPid, ...others] = extensionHostPids(server);
    assert.ok(hostPid !== undefined && others.length === 0, `one extension host, found ${[hostPid, ...others].join(', ')}`);
    const activations = () => (lifelineLogText(server.userDataDir).match(/\[activate\] Lifeline 0\.1\.0 active/g) ?? []).length;
    const before = activations();
    process.kill(hostPid, 'SIGKILL');
    await waitUntil(() => activations() > before, 'Lifeline to activate in the restarted extension host', 90_000);
    const [restarted] = extensionHostPids(server);
    assert.ok(restarted !== undefined && restarted !== hostPid);

    await waitUntil(() => lines().includes('end report'), 'the pipeline to finish after the crash', 60_000);
    assert.deepEqual(
      lines(),
      ['start fetch', 'end fetch', 'start build', 'end build', 'start report', 'end report'],
      'each stage ran exactly once',
    );
    await showLifelineViews(page);
    await row('succeeded').waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(lifelineLogText(server.userDataDir), /\[queue\] opened as holder with 1 job/);
    await screenshot(page, 'vsix-after-host-crash');
  });

  it('ships lifeline-store: run with plain node from the installed extension, it finds the workspace under code-server, verifies it, and refuses to write while the window holds it', () => {
    const installed = readdirSync(join(home, 'extensions')).find((name) => name.startsWith('lifeline.lifeline-')) as string;
    const cli = join(home, 'extensions', installed, 'dist', 'lifeline-store.js');
    const args = ['--workspace', join(home, 'workspace'), '--user-data-dir', server.userDataDir];
    const run = (command: string[]) => spawnSync(process.execPath, [cli, ...command, ...args], { encoding: 'utf8', env: scratchEnv(home) });
    const verify = run(['verify']);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /Queue: +1 job\(s\)/);
    assert.match(verify.stdout, /Lease: +pid \d+ on /, 'the window holds the queue');
    const backup = run(['backup']);
    assert.equal(backup.status, 5, backup.stderr);
    assert.match(backup.stderr, /holds .*: pid \d+ on .*nothing was written/);
  });
});
