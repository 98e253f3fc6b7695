import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lifelinePath } from './mcpTestKit';
import type { ProcessRun } from '../../kit/processRun';
import { collect } from '../../kit/processRun';

function runMcp(args: readonly string[]): Promise<ProcessRun> {
  const child = spawn(process.execPath, [lifelinePath, 'mcp', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end();
  return collect(child);
}

describe('lifeline mcp: its command line', function () {
  this.timeout(30_000);
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'lifeline-mcp-cli-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('refuses an unknown flag or a stray argument with exit 2 and nothing on stdout (the protocol stream)', async () => {
    for (const args of [['--bogus'], ['extra'], ['--workspace']]) {
      const run = await runMcp(args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /^lifeline mcp: .+\nUsage: lifeline mcp /);
      assert.equal(run.stdout, '');
    }
  });

  it('says which folder it cannot serve: a missing one (exit 2), one Lifeline never opened (exit 69)', async () => {
    const missing = await runMcp(['--workspace', join(root, 'missing'), '--user-data-dir', join(root, 'user-data')]);
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /does not exist/);
    const unknown = await runMcp(['--workspace', root, '--user-data-dir', join(root, 'user-data')]);
    assert.equal(unknown.status, 69, unknown.stderr);
    assert.match(unknown.stderr, /Lifeline has no queue for/);
    assert.equal(unknown.stdout, '');
  });
});
