import { writeFileSync } from 'node:fs';

/** What each test tier reports to scripts/runTests.mjs, which sums them into the last line. */
export interface TierResult {
  readonly tier: string;
  readonly passed: number;
  readonly failed: number;
  readonly failures: readonly string[];
}

export function writeTierResult(path: string, result: TierResult): void {
  writeFileSync(path, JSON.stringify(result, null, 2));
}
