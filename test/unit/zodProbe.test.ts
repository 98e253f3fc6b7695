import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * src/vscode/zodProbe.ts answers zod's eval probe so that zod never reads `navigator`, which the
 * extension host of VS Code 1.101+ turns into a logged PendingMigrationError. Run in a fresh Node
 * with a `navigator` that records every read, as that extension host's does.
 */
function runWithNavigatorTrap(preload: boolean): { reads: number; fast: boolean } {
  const probe = join(__dirname, '..', '..', 'src', 'vscode', 'zodProbe.js');
  const script = `
    let reads = 0;
    Object.defineProperty(globalThis, 'navigator', { get() { reads++; return undefined; } });
    if (${preload}) require(${JSON.stringify(probe)});
    const { z } = require('zod');
    const { util } = require('zod/v4/core');
    z.object({ id: z.string(), n: z.number() }).strict().parse({ id: 'a', n: 1 });
    process.stdout.write(JSON.stringify({ reads, fast: util.allowsEval.value }));
  `;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: join(__dirname, '..', '..', '..') });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as { reads: number; fast: boolean };
}

describe('zod in the extension host', () => {
  it('without the probe answered, zod reads navigator (the trap works)', () => {
    assert.ok(runWithNavigatorTrap(false).reads > 0);
  });

  it('with src/vscode/zodProbe loaded first, zod never reads navigator and keeps its compiled parsers', () => {
    assert.deepEqual(runWithNavigatorTrap(true), { reads: 0, fast: true });
  });
});
