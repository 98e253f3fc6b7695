import * as assert from 'node:assert/strict';
import { ManualClock } from '../../../src/core/clock';
import { nullLogger } from '../../../src/core/logger';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import type { StorageHealth } from '../../../src/core/runtime/storageHealth';
import { describeWriteError, observeQueueLog, StorageHealthTracker } from '../../../src/core/runtime/storageHealth';

const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('runtime: storage health (is the queue saving?)', () => {
  it('is notSaving from the first failed commit, once, until a commit succeeds', async () => {
    const clock = new ManualClock();
    const tracker = new StorageHealthTracker(clock, nullLogger);
    const seen: StorageHealth[] = [];
    tracker.onDidChange((health) => seen.push(health));
    const memory = new MemoryQueueLog();
    const log = observeQueueLog(memory, tracker);

    await log.commit([]);
    assert.deepEqual(seen, [{ state: 'saving' }, { state: 'saved' }]);

    seen.length = 0;
    const since = clock.now();
    memory.failNext = enospc();
    await assert.rejects(log.commit([]), /ENOSPC/, 'the error passes through to the queue unchanged');
    clock.advance(5000);
    memory.failNext = new Error('a second failure');
    await assert.rejects(log.commit([]));
    assert.deepEqual(
      seen,
      [{ state: 'saving' }, { state: 'notSaving', reason: 'the disk is full (ENOSPC)', code: 'ENOSPC', since }],
      'one change to notSaving, not one per failure, and no "saving" while it fails',
    );
    assert.equal(tracker.health.state, 'notSaving');

    await log.commit([]);
    assert.deepEqual(seen.at(-1), { state: 'saved' }, 'a commit that succeeds clears it');
    tracker.dispose();
  });

  it('a compaction that succeeds clears it too (the Retry of the views)', async () => {
    const tracker = new StorageHealthTracker(new ManualClock(), nullLogger);
    const memory = new MemoryQueueLog();
    const log = observeQueueLog(memory, tracker);
    memory.failNext = enospc();
    await assert.rejects(log.commit([]));
    await log.compact({ version: 1 } as never);
    assert.equal(tracker.health.state, 'saved');
  });

  it('reads the errno code through typed errors that wrap it', () => {
    const wrapped = new Error('The queue could not be saved', { cause: Object.assign(new Error('EIO'), { code: 'EIO' }) });
    assert.deepEqual(describeWriteError(wrapped), { reason: 'the disk reported an I/O error (EIO)', code: 'EIO' });
    assert.deepEqual(describeWriteError(new Error('odd')), { reason: 'odd', code: undefined });
  });
});
