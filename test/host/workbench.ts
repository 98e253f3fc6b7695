import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { delay } from './codeServer';
import { artifactsDir } from './paths';
import type { FrameLocator, Locator, Page } from './playwright';

/** Waits on a real condition, polling; throws with `what` when it does not come true. */
export async function waitUntil(condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}

export async function waitForWorkbench(page: Page): Promise<void> {
  await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 90_000 });
}

/**
 * Runs a command from the command palette as a person would: F1, type the title, wait until the
 * focused row shows that title, Enter. F1 is retried when the palette does not open (focus can
 * be inside a webview or still settling after startup).
 */
export async function runCommand(page: Page, title: string, options: { opensQuickPick?: boolean } = {}): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const focused = page.locator('.quick-input-widget .monaco-list-row.focused .label-name');
  // The palette lists the commands known when it opens; ones contributed by an extension host
  // that is still starting appear only in a palette opened later, so a miss reopens it.
  for (let attempt = 1; ; attempt++) {
    await openPalette(page, input);
    await input.fill(`>${title}`);
    try {
      await waitUntil(
        async () => (await focused.count()) > 0 && (await focused.first().innerText()).trim() === title,
        `the palette to offer "${title}"`,
        10_000,
      );
      break;
    } catch (error) {
      if (attempt >= 3) {
        await screenshot(page, `palette-failed-${title.replace(/\W+/g, '-')}`);
        throw error;
      }
      await page.keyboard.press('Escape');
    }
  }
  await page.keyboard.press('Enter');
  // A command that asks with a quick pick of its own keeps the widget open, with new rows.
  if (!options.opensQuickPick) await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Opens the Lifeline side bar, unless it is open: a click on an active container would close it. */
export async function showLifelineViews(page: Page): Promise<void> {
  const item = page.locator('.part.activitybar li.action-item:has(a[aria-label^="Lifeline"])');
  const sideBar = page.locator('.part.sidebar .composite.title', { hasText: 'Lifeline' });
  // Right after a reload the workbench may still be restoring its layout (VS Code 1.139 closes the
  // side bar again after an early click): click until the side bar shows Lifeline's views.
  let clickedAt = 0;
  await waitUntil(
    async () => {
      if (await sideBar.isVisible()) return true;
      if (Date.now() - clickedAt > 2_000) {
        await item.locator('a').click();
        clickedAt = Date.now();
      }
      return false;
    },
    "Lifeline's views in the side bar",
    30_000,
  );
}

/** Answers the input box a command opened (after `runCommand(..., { opensQuickPick: true })`). */
export async function answerInputBox(page: Page, text: string, title: string): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  // The palette's widget is reused: wait for the command's own box (its title), not the palette.
  await page
    .locator('.quick-input-widget .quick-input-title', { hasText: title })
    .waitFor({ state: 'visible', timeout: 10_000 })
    .catch(async (error: unknown) => {
      await screenshot(page, `input-box-failed-${title.replace(/\W+/g, '-')}`);
      throw error;
    });
  await input.fill(text);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Picks the row whose label contains `label` in the quick pick a command opened. */
export async function pickQuickItem(page: Page, label: string): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const focused = page.locator('.quick-input-widget .monaco-list-row.focused .label-name');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await waitUntil(
    async () => (await input.inputValue()) === '' || !(await input.inputValue()).startsWith('>'),
    "the command palette to give way to the command's quick pick",
    10_000,
  );
  await input.fill(label);
  await waitUntil(
    async () => (await focused.count()) > 0 && (await focused.first().innerText()).includes(label),
    `the quick pick to offer "${label}"`,
    10_000,
  );
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

async function openPalette(page: Page, input: Locator): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 5_000 });
      return;
    } catch (error) {
      if (attempt >= 4) throw error;
      // Focus may be inside a webview, which keeps F1 to itself.
      await page
        .locator('.monaco-workbench .part.statusbar')
        .click()
        .catch(() => undefined);
    }
  }
}

/** The content frame of the webview whose body carries `data-ready`. */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

/** Saves a screenshot under test-results/ (kept by CI for people to look at). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** The folder Lifeline made for its workspace under globalStorage, once activation made it. */
export function lifelineStorageFolders(userDataDir: string): string[] {
  const root = join(userDataDir, 'User', 'globalStorage', 'lifeline.lifeline', 'workspaces');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'manifest.json')))
    .map((name) => join(root, name));
}

/** Lines of the Lifeline log channel of the newest extension host session, from its file. */
export function lifelineLogText(userDataDir: string): string {
  const logs = join(userDataDir, 'logs');
  if (!existsSync(logs)) return '';
  let text = '';
  for (const session of readdirSync(logs).sort()) {
    for (const host of readdirSync(join(logs, session)).filter((name) => name.startsWith('exthost'))) {
      const file = join(logs, session, host, 'lifeline.lifeline', 'Lifeline.log');
      if (existsSync(file)) text += readFileSync(file, 'utf8');
    }
  }
  return text;
}
