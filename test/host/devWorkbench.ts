import { cpSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from './browser';
import type { CodeServer } from './codeServer';
import { newRunHome, remoteUri, startCodeServer, workbenchUrl } from './codeServer';
import { repoRoot, sampleWorkspace } from './paths';
import type { BrowserContext, Page } from './playwright';
import { lifelineLogText, lifelineStorageFolders, waitForWorkbench, waitUntil } from './workbench';

export interface DevWorkbench {
  readonly home: string;
  readonly workspace: string;
  /** The copy's `.vscode/lifeline.json`. */
  readonly configPath: string;
  readonly server: CodeServer;
  readonly browser: BrowserContext;
  readonly page: Page;
}

export interface DevWorkbenchOptions {
  /** Job definitions added to the sample's `.vscode/lifeline.json`. */
  readonly jobs?: readonly unknown[];
  /** Resolve symbolic links in the run's folder (tests that compare real paths). */
  readonly realPath?: boolean;
  /** Wait for the queue to open as holder, not only for Lifeline's storage folder. @default true */
  readonly waitForQueue?: boolean;
}

/**
 * A copy of the sample workspace opened in a real browser on a code-server that runs this
 * checkout's Lifeline as a development extension; resolves once Lifeline has activated (and,
 * by default, holds the queue).
 */
export async function openDevWorkbench(label: string, options: DevWorkbenchOptions = {}): Promise<DevWorkbench> {
  const home = options.realPath ? realpathSync(newRunHome(label)) : newRunHome(label);
  const workspace = join(home, 'workspace');
  cpSync(sampleWorkspace, workspace, { recursive: true });
  const configPath = join(workspace, '.vscode', 'lifeline.json');
  if (options.jobs?.length) {
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { jobs: unknown[] };
    config.jobs.push(...options.jobs);
    writeFileSync(configPath, JSON.stringify(config, null, 2));
  }
  const server = await startCodeServer({ home });
  const browser = await launchBrowser(home);
  const page = await openDevWorkbenchPage(browser, server, workspace);
  await waitUntil(() => lifelineStorageFolders(server.userDataDir).length === 1, 'Lifeline to activate and create its storage folder');
  if (options.waitForQueue ?? true) {
    await waitUntil(() => /\[queue\] opened as holder/.test(lifelineLogText(server.userDataDir)), 'the queue to open');
  }
  return { home, workspace, configPath, server, browser, page };
}

/**
 * The workbench of `workspace` with this checkout's Lifeline, in `page` (a second window) or the
 * first page of `browser` (a browser profile of its own, say), once the workbench is up.
 */
export async function openDevWorkbenchPage(browser: BrowserContext, server: CodeServer, workspace: string, page?: Page): Promise<Page> {
  page ??= browser.pages()[0] ?? (await browser.newPage());
  await page.goto(
    workbenchUrl(server, workspace, [
      ['extensionDevelopmentPath', remoteUri(server, repoRoot)],
      ['skipWelcome', 'true'],
    ]),
  );
  await waitForWorkbench(page);
  return page;
}
