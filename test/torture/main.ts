import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stateStoreSubject } from './stateStoreSubject';
import { runTorture, summaryLine } from './tortureHarness';

/**
 * `npm run torture [-- --kills N] [-- --keep]`: SIGKILLs a StateStore writer N times (default 200)
 * and checks every acknowledged commit after each kill. Last line:
 * `torture: K kills, A acknowledged, L lost, U unreadable`; exits non-zero unless L and U are 0.
 */
async function main(argv: readonly string[]): Promise<number> {
  const killsIndex = argv.indexOf('--kills');
  const kills = killsIndex >= 0 ? Number(argv[killsIndex + 1]) : 200;
  if (!Number.isInteger(kills) || kills < 1) {
    process.stderr.write('usage: torture [--kills N] [--keep]\n');
    return 2;
  }
  // On the real disk (the OS temp folder here), not a tmpfs: the store's own fsync path runs.
  const directory = mkdtempSync(join(tmpdir(), 'lifeline-torture-'));
  try {
    const result = await runTorture(stateStoreSubject, { kills, directory, log: (line) => process.stderr.write(`[torture] ${line}\n`) });
    for (const problem of result.problems.slice(0, 20)) process.stdout.write(`problem: ${problem}\n`);
    process.stdout.write(`${summaryLine(result)}\n`);
    return result.lost === 0 && result.unreadable === 0 && result.problems.length === 0 ? 0 : 1;
  } finally {
    if (argv.includes('--keep')) process.stderr.write(`[torture] kept ${directory}\n`);
    else rmSync(directory, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`torture failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
