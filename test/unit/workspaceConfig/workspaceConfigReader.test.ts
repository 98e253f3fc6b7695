import * as assert from 'node:assert/strict';
import { WorkspaceConfigReader } from '../../../src/core/workspaceConfig/workspaceConfigReader';
import { MemoryLogger } from '../../../src/core/logger';

describe('jobs: reading .vscode/lifeline.json again and again', () => {
  const valid = '{ "version": 1, "jobs": [{ "name": "a", "command": "x" }] }';
  const invalid = '{ "version": 1, "jobs": [{ "name": "a", "command": 5 }] }';
  const nothingAllowed = { isAllowed: () => false };

  it('logs each warning once, however often the same content is read', () => {
    const logger = new MemoryLogger();
    const reader = new WorkspaceConfigReader('/ws', logger, nothingAllowed);
    reader.read({ text: valid });
    // A save fires the watcher twice: the same broken content is read twice.
    const first = reader.read({ text: invalid });
    reader.read({ text: invalid });
    const warnings = logger.lines.filter((line) => line.level === 'warn');
    assert.equal(warnings.length, 1, JSON.stringify(logger.lines));
    assert.match(
      warnings[0]?.message ?? '',
      /^\[workspaceJobs\] \.vscode\/lifeline\.json: jobs\[0\]\.command: expected a string, got a number \(line 1, column 52\)\. \(keeping the 1 definition\(s\) read before\)$/,
    );
    assert.equal(first.definitions.length, 1, 'the definitions read before stay');
    assert.equal(first.errors.length, 1);
    const fixed = reader.read({ text: valid });
    reader.read({ text: valid });
    assert.equal(fixed.problem, undefined);
    assert.deepEqual(fixed.errors, []);
    assert.deepEqual(
      logger.lines.map((line) => line.level),
      ['info', 'warn', 'info'],
    );
  });

  it('forgets the definitions when the file goes, and says nothing of a file that never was', () => {
    const logger = new MemoryLogger();
    const reader = new WorkspaceConfigReader('/ws', logger, nothingAllowed);
    reader.read({ missing: true });
    assert.equal(logger.lines.length, 0);
    reader.read({ text: valid });
    assert.deepEqual(reader.read({ missing: true }).definitions, []);
    reader.read({ missing: true });
    assert.deepEqual(
      logger.lines.map((line) => line.message),
      ['[workspaceJobs] 1 job definition(s) in .vscode/lifeline.json', '[workspaceJobs] .vscode/lifeline.json is gone: no job definitions'],
    );
    const failed = reader.read({ failed: 'EACCES' });
    assert.match(failed.problem ?? '', /cannot be read: EACCES/);
  });
});
