import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { launchBrowser } from '../host/browser';
import { freePort, groupAlive, newRunHome } from '../host/codeServer';
import { repoRoot } from '../host/paths';
import type { BrowserContext } from '../host/playwright';
import { lifelineStorageFolders, screenshot, waitForWorkbench, waitUntil } from '../host/workbench';

describe('npm start (e2e)', () => {
  let start: ChildProcess | undefined;
  let browser: BrowserContext | undefined;

  let serverPid: number | undefined;

  after(async () => {
    await browser?.close();
    if (start?.pid && groupAlive(start.pid)) process.kill(-start.pid, 'SIGKILL');
    // code-server runs in a session of its own, out of reach of a kill of npm start's group:
    // when the test failed before Ctrl+C, stop it here.
    if (serverPid && groupAlive(serverPid)) process.kill(-serverPid, 'SIGKILL');
  });

  it('serves a VS Code with Lifeline active on the sample workspace, and Ctrl+C stops it all', async () => {
    const home = newRunHome('e2e-start');
    const port = await freePort();
    // Its own process group, as in a terminal, so that "Ctrl+C" (SIGINT to the group) is real.
    start = spawn(process.execPath, [join(repoRoot, 'scripts', 'start.mjs'), '--port', String(port)], {
      cwd: repoRoot,
      detached: true,
      env: { ...process.env, LIFELINE_START_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    start.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    start.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil(() => /http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+/.test(output), 'npm start to print the URL', 180_000);
    const url = /(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)/.exec(output)?.[1] ?? '';
    await waitUntil(() => /code-server pid \d+/.test(output), 'npm start to print the server pid', 10_000);
    serverPid = Number(/code-server pid (\d+)/.exec(output)?.[1]);
    assert.ok(url.startsWith(`http://127.0.0.1:${port}/`), url);
    assert.ok(decodeURIComponent(url).includes(join('samples', 'demo-workspace')), url);

    browser = await launchBrowser(home);
    const page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(url);
    await waitForWorkbench(page);
    await waitUntil(() => lifelineStorageFolders(join(home, 'user-data')).length === 1, 'Lifeline to activate in the served VS Code');
    await page.locator('.part.activitybar .action-item a[aria-label^="Lifeline"]').waitFor({ state: 'visible', timeout: 30_000 });
    await screenshot(page, 'npm-start');
    await browser.close();
    browser = undefined;

    const pid = start.pid as number;
    const exited = new Promise<number | null>((resolve) => start?.once('exit', (code) => resolve(code)));
    process.kill(-pid, 'SIGINT');
    assert.equal(await exited, 0);
    await waitUntil(() => !groupAlive(pid) && !groupAlive(serverPid as number), 'every process npm start started to stop', 20_000);
  });
});
