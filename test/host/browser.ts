import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from './playwright';
import { loadPlaywright } from './playwright';
import { scratchEnv } from './codeServer';

const contexts = new Set<BrowserContext>();

/**
 * Debian's Chromium through playwright-core. The background-networking flags keep it from
 * flooding the closed network; a profile folder that is reused keeps IndexedDB (Memento,
 * webview state) across a restart, as a real user's browser would.
 */
export async function launchBrowser(home: string, profile = 'browser-profile'): Promise<BrowserContext> {
  const profileDir = join(home, profile);
  mkdirSync(profileDir, { recursive: true });
  const context = await loadPlaywright().chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    env: scratchEnv(home),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  contexts.add(context);
  const close = context.close.bind(context);
  context.close = async () => {
    contexts.delete(context);
    await close();
  };
  return context;
}

export async function closeAllBrowsers(): Promise<void> {
  await Promise.all([...contexts].map((context) => context.close().catch(() => undefined)));
}
