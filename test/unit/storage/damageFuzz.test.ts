import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { StorageError } from '../../../src/core/storage/errors';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import { decodeSnapshot } from '../../../src/core/storage/snapshot';
import { describeCampaign, runDamageCampaign } from '../../damage/damageTorture';

describe('storage: damage fuzz (zero silent loss)', function () {
  this.timeout(240_000);

  it('one damage to one file of each store, after a clean close and after a crash: 0 silent losses, 0 crashes', async () => {
    const result = await runDamageCampaign(2100);
    process.stdout.write(`${describeCampaign(result)}\n`);
    assert.ok(result.trials >= 2000, `only ${result.trials} trials`);
    assert.ok(result.totals.intact > 0 && result.totals.reported > 0, 'the campaign saw no intact or no reported trial');
    assert.equal(result.totals.silent, 0, `${result.totals.silent} silent losses (replay: LIFELINE_SEED=${result.seed})`);
    assert.equal(result.totals.crash, 0, `${result.totals.crash} crashes (replay: LIFELINE_SEED=${result.seed})`);
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
