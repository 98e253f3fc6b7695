import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { StorageError } from '../../../src/core/storage/errors';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import { decodeSnapshot } from '../../../src/core/storage/snapshot';
import { campaignSeed, formatTable, runCampaign } from '../../damage/campaign';
import { historySubject } from '../../damage/historySubject';
import { jobJournalSubject } from '../../damage/jobJournalSubject';
import { queueSubject, stateStoreSubject } from '../../damage/storeSubjects';
import { makeTempDir, testCipher } from './storageTestKit';

describe('storage: damage fuzz (zero silent loss)', function () {
  this.timeout(240_000);
  let temp: ReturnType<typeof makeTempDir>;
  before(() => {
    // On tmpfs when there is one: this tests detection and recovery, not the disk.
    temp = makeTempDir('lifeline-damage-', existsSync('/dev/shm') ? '/dev/shm' : undefined);
  });
  after(() => temp.cleanup());

  it('one damage to one file of each store, after a clean close and after a crash: 0 silent losses, 0 crashes', async () => {
    const result = await runCampaign({
      seed: campaignSeed(),
      directory: temp.dir,
      subjects: [
        { subject: stateStoreSubject(), trials: 700 },
        { subject: stateStoreSubject(testCipher()), trials: 200 },
        { subject: queueSubject, trials: 500 },
        { subject: historySubject, trials: 300 },
        { subject: jobJournalSubject, trials: 400 },
      ],
    });
    process.stdout.write(`${formatTable(result)}\n`);
    for (const failure of result.failures.slice(0, 15)) {
      process.stdout.write(`  ${failure.outcome}: ${failure.subject}/${failure.mode} ${failure.file} ${failure.damage}: said ${failure.said}; ${failure.detail}\n`);
    }
    assert.ok(result.trials >= 2000, `only ${result.trials} trials`);
    assert.equal(result.totals.intact > 0 && result.totals.reported > 0, true, 'the campaign saw no intact or no reported trial');
    assert.equal(result.totals.silent, 0, `${result.totals.silent} silent losses (seed ${result.seed})`);
    assert.equal(result.totals.crash, 0, `${result.totals.crash} crashes (seed ${result.seed})`);
  });

  it('the pure decoders throw nothing but StorageErrors on any bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        scanJournal(Buffer.from(bytes));
        try {
          await decodeSnapshot(bytes, undefined);
        } catch (error) {
          assert.ok(error instanceof StorageError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
