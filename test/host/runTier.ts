import { join } from 'node:path';
import { closeAllBrowsers } from './browser';
import { stopAllCodeServers } from './codeServer';
import { findTestFiles, runMocha } from './mochaRun';
import { repoRoot } from './paths';
import { writeTierResult } from './tierResult';

/** Runs one plain-Node tier (unit or e2e) from out/test/<tier> and writes its counts. */
const timeouts: Record<string, number> = { unit: 30_000, e2e: 240_000 };

async function main(tier: string, resultFile: string): Promise<void> {
  const files = findTestFiles(join(repoRoot, 'out', 'test', tier));
  const result = await runMocha(tier, files, {
    timeout: timeouts[tier] ?? 60_000,
    grep: process.env.LIFELINE_TEST_GREP,
    afterAll: async () => {
      // Global teardown: nothing a test started may outlive the run.
      await closeAllBrowsers();
      await stopAllCodeServers();
    },
  });
  writeTierResult(resultFile, result);
}

const [tier, resultFile] = process.argv.slice(2);
if (!tier || !resultFile) {
  process.stderr.write('usage: runTier <unit|e2e> <result.json>\n');
  process.exit(2);
}
main(tier, resultFile).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${tier} tier failed to run: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
