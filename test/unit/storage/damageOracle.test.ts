import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { historySubject } from '../../damage/historySubject';
import { writeDamagedImage } from '../../damage/image';
import { jobJournalSubject } from '../../damage/jobJournalSubject';
import { queueSubject, stateStoreSubject } from '../../damage/storeSubjects';
import type { Mode } from '../../damage/verdict';
import { judgeSequenced } from '../../damage/verdict';
import { makeTempDir } from './storageTestKit';

const states = new Map([0, 1, 2, 3, 4].map((sequence) => [sequence, `s${sequence}`]));

function dataLost(fromSequence: number, toSequence?: number): StorageEvent {
  return {
    type: 'dataLost',
    store: 'state',
    cause: 'journalCut',
    fromSequence,
    toSequence,
    records: undefined,
    acknowledgedBetween: undefined,
    detail: 'test',
  };
}

const tailCut: StorageEvent = { type: 'journalTailCut', store: 'state', file: 'f', bytesCut: 3, droppedCompleteRecord: false };

describe('storage: the damage fuzz oracle', () => {
  it('passes what was acknowledged, and a loss only when a dataLost or stateLost covers it', () => {
    assert.equal(judgeSequenced('s3', [], states, 3, false).outcome, 'intact');
    assert.equal(judgeSequenced('s3', [tailCut], states, 3, false).outcome, 'intact');
    assert.equal(judgeSequenced('s1', [dataLost(2)], states, 3, false).outcome, 'reported');
    assert.equal(judgeSequenced('s1', [dataLost(2, 3)], states, 3, false).outcome, 'reported');
    assert.equal(judgeSequenced('s0', [{ type: 'stateLost', store: 'state', detail: 'test' }], states, 3, false).outcome, 'reported');
  });

  it('fails a loss with no report, with only a tail cut, with a dataLost that starts elsewhere or stops short', () => {
    assert.equal(judgeSequenced('s1', [], states, 3, false).outcome, 'silent');
    assert.equal(judgeSequenced('s1', [tailCut], states, 3, false).outcome, 'silent');
    assert.equal(judgeSequenced('s1', [dataLost(3)], states, 3, false).outcome, 'silent');
    assert.equal(judgeSequenced('s1', [dataLost(2, 2)], states, 3, false).outcome, 'silent');
    assert.equal(judgeSequenced('something else', [dataLost(2)], states, 3, false).outcome, 'silent');
  });

  it('after a crash, the never-acknowledged last commit may or may not come back, with no report', () => {
    assert.equal(judgeSequenced('s4', [], states, 3, true).outcome, 'intact');
    assert.equal(judgeSequenced('s3', [tailCut], states, 3, true).outcome, 'intact');
    assert.equal(judgeSequenced('s4', [], states, 3, false).outcome, 'silent');
    assert.equal(judgeSequenced('s2', [tailCut], states, 3, true).outcome, 'silent');
  });

  describe('each subject opens its undamaged image as intact', function () {
    this.timeout(60_000);
    let temp: ReturnType<typeof makeTempDir>;
    before(() => {
      temp = makeTempDir('lifeline-damage-oracle-', existsSync('/dev/shm') ? '/dev/shm' : undefined);
    });
    after(() => temp.cleanup());
    for (const subject of [stateStoreSubject(), queueSubject, historySubject, jobJournalSubject]) {
      for (const mode of ['clean', 'crash'] as Mode[]) {
        it(`${subject.name}, ${mode}`, async () => {
          const populated = join(temp.dir, `${subject.name}-${mode}`);
          mkdirSync(populated);
          const fixture = await subject.populate(populated, mode, 0);
          try {
            assert.ok(fixture.image.size > 0 && fixture.journals.size > 0);
            const trial = join(temp.dir, `${subject.name}-${mode}-trial`);
            writeDamagedImage(trial, fixture.image, { kind: 'append', file: '', detail: 'none', bytes: undefined });
            const result = await fixture.open(trial);
            assert.equal(result.outcome, 'intact', `${result.said}: ${result.detail}`);
          } finally {
            await fixture.dispose();
          }
        });
      }
    }
  });
});
