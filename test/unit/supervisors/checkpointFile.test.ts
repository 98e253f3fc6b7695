import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointFile, checkpointFilePath } from '../../../src/shared/supervisor/node/checkpointFile';

describe('supervisor: the LIFELINE_CHECKPOINT_FILE reader', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-cpfile-'));
    path = join(dir, 'job.1.checkpoint');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("lies beside the run's journal", () => {
    assert.equal(checkpointFilePath('/s/jobs/a%2Fb.3.journal'), '/s/jobs/a%2Fb.3.checkpoint');
  });

  it('reads a change once it held still for a poll; trims; the same text again, or empty, is no news', () => {
    const file = new CheckpointFile(path, undefined);
    assert.equal(file.read(), undefined, 'no file yet');
    writeFileSync(path, '  {"frame":120}\n');
    assert.equal(file.read(), undefined, 'just changed: it may be half written');
    assert.deepEqual(file.read(), { checkpoint: '{"frame":120}' });
    assert.equal(file.read(), undefined, 'unchanged');
    assert.equal(file.read(true), undefined, 'a forced read of the same text');
    writeFileSync(path, '{"frame":120}');
    assert.equal(file.read(true), undefined, 'rewritten with the same text');
    writeFileSync(path, '\n');
    assert.equal(file.read(true), undefined, 'empty');
    writeFileSync(path, 'next');
    assert.deepEqual(file.read(true), { checkpoint: 'next' }, 'a forced read does not wait');
  });

  it('the checkpoint the run started with, or one sent as a line, is not repeated from the file', () => {
    writeFileSync(path, 'c1');
    const file = new CheckpointFile(path, 'c1');
    assert.equal(file.read(true), undefined);
    file.noteCheckpoint('c2');
    writeFileSync(path, 'c2');
    assert.equal(file.read(true), undefined);
  });

  it('refuses a file over the limit with one warning, then reads it once it fits', () => {
    const file = new CheckpointFile(path, undefined, 16);
    writeFileSync(path, 'x'.repeat(17));
    assert.match((file.read(true) as { warning: string }).warning, /17 bytes, more than the limit of 16/);
    assert.equal(file.read(), undefined, 'warned once');
    assert.equal(file.read(true), undefined, 'warned once, forced or not');
    writeFileSync(path, 'small');
    assert.deepEqual(file.read(true), { checkpoint: 'small' });
  });

  it('reset removes a file an earlier run with the same name left', () => {
    writeFileSync(path, 'stale');
    const file = new CheckpointFile(path, undefined);
    file.reset();
    assert.equal(existsSync(path), false);
    assert.equal(file.read(true), undefined);
  });
});
