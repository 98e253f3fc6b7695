import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TierResult } from './tierResult';

interface MochaRunner {
  on(event: 'pass', listener: (test: { fullTitle(): string }) => void): MochaRunner;
  on(event: 'fail', listener: (test: { fullTitle(): string }, error: Error) => void): MochaRunner;
}
interface MochaInstance {
  addFile(file: string): void;
  run(done: (failures: number) => void): MochaRunner;
  rootHooks(hooks: { afterAll?: () => Promise<void> }): void;
}
type MochaConstructor = new (options: Record<string, unknown>) => MochaInstance;

/** Every `*.test.js` below `dir`, sorted, so runs are repeatable. */
export function findTestFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTestFiles(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

/**
 * Runs mocha programmatically and counts what really ran: a hook failure counts as a failure,
 * and the caller treats zero tests as a failed tier.
 */
export async function runMocha(
  tier: string,
  files: readonly string[],
  options: { timeout: number; afterAll?: () => Promise<void>; grep?: string },
): Promise<TierResult> {
  // mocha 12 is ESM-only; require() of ESM works on Node 20.19 and later, which the
  // extension hosts of both test hosts run (the project's Node for 4.100.3, Node 24 for 4.139.1).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
  const loaded = require('mocha') as MochaConstructor | { default: MochaConstructor };
  const Mocha = 'default' in loaded ? loaded.default : loaded;
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: options.timeout,
    color: false,
    reporter: 'spec',
    ...(options.grep ? { grep: options.grep } : {}),
  });
  if (options.afterAll) mocha.rootHooks({ afterAll: options.afterAll });
  for (const file of files) mocha.addFile(file);
  let passed = 0;
  let failed = 0;
  const failures: string[] = [];
  await new Promise<void>((resolve) => {
    mocha
      .run(() => resolve())
      .on('pass', () => {
        passed++;
      })
      .on('fail', (test, error) => {
        failed++;
        failures.push(`${test.fullTitle()}: ${error.message}`);
      });
  });
  return { tier, passed, failed, failures };
}
