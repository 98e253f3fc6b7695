import { writeFileSync } from 'node:fs';
import { findTestFiles, runMocha } from '../host/mochaRun';

/**
 * Entry point the workbench calls inside the extension host (the `extensionTestsPath` of the
 * payload). Results go to the file the runner named in the server's environment, because the
 * host's stdout is not the test runner's.
 */
export async function run(): Promise<void> {
  const result = await runMocha('integration', findTestFiles(__dirname), { timeout: 60_000, grep: process.env.LIFELINE_TEST_GREP });
  const target = process.env.LIFELINE_TEST_RESULTS;
  if (target) writeFileSync(target, JSON.stringify(result));
  if (result.failed > 0) throw new Error(`${result.failed} integration test(s) failed`);
}
