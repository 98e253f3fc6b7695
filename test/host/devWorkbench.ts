import { cpSync, existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser } from './browser';
import type { CodeServer } from './codeServer';
import { newRunHome, remoteUri, startCodeServer, workbenchUrl } from './codeServer';
import { repoRoot, sampleWorkspace } from './paths';
import type { BrowserContext, Page } from './playwright';
import { testHost } from './testHost';
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
  await page.goto(workbenchUrl(server, workspace, developmentPayload(server)));
  await waitForWorkbench(page);
  return page;
}

/**
 * The workbench URL's payload that runs this checkout's Lifeline as the extension under
 * development. A workbench that does not read the payload's extensionDevelopmentPath (VS Code 1.139
 * reads it only under the smoke-test driver, which hides notification toasts, see test/host/testHost.ts)
 * gets the checkout registered in the server's extensions instead: the same files, run as an
 * installed extension (ExtensionMode.Production; Lifeline behaves the same in both modes).
 */
export function developmentPayload(server: CodeServer): [string, string][] {
  if (testHost().payloadNeedsSmokeTestDriver) registerCheckout(server.extensionsDir);
  return [
    ['extensionDevelopmentPath', remoteUri(server, repoRoot)],
    ['skipWelcome', 'true'],
  ];
}

interface ProfileExtension {
  readonly identifier: { readonly id: string };
  readonly version: string;
  readonly location: { readonly $mid: 1; readonly scheme: 'file'; readonly path: string };
  readonly metadata: Record<string, unknown>;
}

/**
 * Adds the checkout to the extensions folder's `extensions.json` (the list VS Code keeps of its
 * installed extensions), at the checkout's own path: nothing is copied or linked, so VS Code's
 * clean-up of its extensions folder never reaches the checkout. Idempotent.
 */
function registerCheckout(extensionsDir: string): void {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
  const id = `${manifest.publisher}.${manifest.name}`;
  const listFile = join(extensionsDir, 'extensions.json');
  const listed = existsSync(listFile) ? (JSON.parse(readFileSync(listFile, 'utf8')) as ProfileExtension[]) : [];
  if (listed.some((extension) => extension.identifier.id === id)) return;
  const checkout: ProfileExtension = {
    identifier: { id },
    version: manifest.version,
    location: { $mid: 1, scheme: 'file', path: repoRoot },
    metadata: { installedTimestamp: Date.now(), source: 'resource' },
  };
  writeFileSync(listFile, JSON.stringify([...listed, checkout]));
}
