import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  // Chromium puts its SingletonSocket under TMPDIR, and a Unix socket path longer than 107 bytes
  // aborts the browser at start: a checkout at a deep path (CI's) made the run folder's scratch
  // too long. A short private folder under the OS temp folder keeps it well inside the limit.
  const shortTmp = mkdtempSync(join(tmpdir(), 'llbr-'));
  const context = await loadPlaywright()
    .chromium.launchPersistentContext(profileDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1400, height: 900 },
      env: { ...scratchEnv(home), TMPDIR: shortTmp },
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
    })
    .catch((error: unknown) => {
      rmSync(shortTmp, { recursive: true, force: true });
      throw error;
    });
  contexts.add(context);
  const close = context.close.bind(context);
  context.close = async () => {
    contexts.delete(context);
    try {
      await close();
    } finally {
      rmSync(shortTmp, { recursive: true, force: true });
    }
  };
  return context;
}

export async function closeAllBrowsers(): Promise<void> {
  await Promise.all([...contexts].map((context) => context.close().catch(() => undefined)));
}

/**
 * Kills a browser launched with `profile` as a crash would (SIGKILL to every process of it): its
 * pages say nothing to the servers they were connected to.
 */
export function killBrowser(home: string, profile = 'browser-profile'): number {
  const flag = `--user-data-dir=${join(home, profile)}`;
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(flag)) continue;
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // the process ended while we looked
    }
  }
  return killed;
}
