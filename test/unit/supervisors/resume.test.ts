import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstStageToRun } from '../../../src/core/queue/jobScheduler';

describe('supervisor: where a resumed pipeline starts', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lifeline-resume-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const stages = () => ['a', 'b', 'c'].map((name) => ({ name, command: 'true', cwd: dir, outputs: [`out-${name}`] }));

  it('skips completed stages whose declared outputs exist', () => {
    writeFileSync(join(dir, 'out-a'), '');
    writeFileSync(join(dir, 'out-b'), '');
    assert.equal(firstStageToRun({ stages: stages(), completedStages: ['a', 'b'] }), 2);
  });

  it('re-runs a completed stage whose output was deleted, and everything after it', () => {
    writeFileSync(join(dir, 'out-a'), '');
    assert.equal(firstStageToRun({ stages: stages(), completedStages: ['a', 'b'] }), 1);
  });

  it('starts at the first stage of a fresh job', () => {
    assert.equal(firstStageToRun({ stages: stages(), completedStages: [] }), 0);
  });
});
