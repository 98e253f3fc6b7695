import * as assert from 'node:assert/strict';
import { nullLogger } from '../../../src/core/logger';
import type { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import type { StorageHealth } from '../../../src/core/runtime/storageHealth';
import { describeWriteError, StorageHealthTracker } from '../../../src/core/runtime/storageHealth';
import type { Harness } from '../queue/jobTestKit';
import { openHarness, settle } from '../queue/jobTestKit';

const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('runtime: storage health (is the queue saving?)', () => {
  let h: Harness;
  let tracker: StorageHealthTracker;
  let seen: StorageHealth[];
  const define = (name: string) => ({ jobId: name, definition: { name, command: 'true' } });
  beforeEach(async () => {
    h = await openHarness({ autoRun: true });
    tracker = new StorageHealthTracker(nullLogger);
    seen = [];
    tracker.onDidChange((health) => seen.push(health));
    tracker.follow(h.queue);
  });
  afterEach(async () => {
    tracker.dispose();
    await h.dispose();
  });

  it("follows the queue's saving status: notSaving from the first failed commit, once, until a commit succeeds", async () => {
    await h.queue.command({ type: 'setPaused', paused: true });
    assert.deepEqual(
      seen.map((health) => health.state),
      ['saving', 'saved'],
    );
    assert.equal(tracker.health.state === 'saved' && tracker.health.at, h.clock.now(), 'saved says when');

    seen.length = 0;
    const since = h.clock.now();
    (h.log as MemoryQueueLog).failNext = enospc();
    await assert.rejects(h.queue.enqueue(define('a')), /disk is full|ENOSPC/);
    h.clock.advance(1000);
    (h.log as MemoryQueueLog).failNext = new Error('a second failure');
    await assert.rejects(h.queue.enqueue(define('b')));
    assert.deepEqual(
      seen,
      [{ state: 'saving' }, { state: 'notSaving', reason: 'the disk is full (ENOSPC)', code: 'ENOSPC', since }],
      'one change to notSaving, not one per failure, and no "saving" while it fails',
    );

    await h.queue.enqueue(define('c'));
    assert.equal(seen.at(-1)?.state, 'saved', 'a commit that succeeds clears it');
  });

  it('stays notSaving while the end of a run is kept in memory only, and Retry writes it', async () => {
    await h.queue.enqueue(define('a'));
    await settle(h.queue);
    (h.log as MemoryQueueLog).failNext = new Error('EIO');
    h.runner.exit('a', 0);
    await settle(h.queue);
    assert.equal(tracker.health.state, 'notSaving', 'the run ended, and that is not on disk');

    await h.queue.retrySaving();
    assert.equal(tracker.health.state, 'saved');
    const queue = await h.reopen();
    assert.equal(queue.getJob('a')?.state, 'succeeded', 'the retry wrote the kept change');
  });

  it('Retry with nothing kept folds the journal, which clears it too', async () => {
    // Paused, so that no start of the job is committed behind the failed enqueue.
    await h.queue.command({ type: 'setPaused', paused: true });
    (h.log as MemoryQueueLog).failNext = enospc();
    await assert.rejects(h.queue.enqueue(define('a')));
    assert.equal(tracker.health.state, 'notSaving');
    await h.queue.retrySaving();
    assert.equal(tracker.health.state, 'saved');
  });

  it('Retry while a compaction begun on the full disk is still in flight waits for it and tries again', async () => {
    await h.queue.command({ type: 'setPaused', paused: true });
    const log = h.log as MemoryQueueLog;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The first compaction starts while the disk is full and fails once it is let go.
    const compact = log.compact.bind(log);
    let compactions = 0;
    log.compact = async (snapshot) => {
      if (++compactions === 1) {
        await held;
        throw enospc();
      }
      return compact(snapshot);
    };
    log.failNext = enospc();
    await assert.rejects(h.queue.enqueue(define('a')));
    assert.equal(tracker.health.state, 'notSaving');
    const inFlight = h.queue.compact();
    // The disk is fixed and Retry is pressed while that compaction still runs.
    const retried = h.queue.retrySaving();
    release();
    await inFlight;
    await retried;
    assert.equal(compactions, 2, 'Retry made an attempt of its own after the failed one');
    assert.equal(tracker.health.state, 'saved');
  });

  it('is saved in a client (no queue of its own), and follows the queue a takeover brings', async () => {
    (h.log as MemoryQueueLog).failNext = enospc();
    await assert.rejects(h.queue.enqueue(define('a')));
    tracker.follow(undefined);
    assert.equal(tracker.health.state, 'saved');
    (h.log as MemoryQueueLog).failNext = enospc();
    await assert.rejects(h.queue.enqueue(define('b')));
    assert.equal(tracker.health.state, 'saved', 'a queue no longer followed says nothing');
    tracker.follow(h.queue);
    assert.equal(tracker.health.state, 'notSaving');
  });

  it('reads the errno code through typed errors that wrap it', () => {
    const wrapped = new Error('The queue could not be saved', { cause: Object.assign(new Error('EIO'), { code: 'EIO' }) });
    assert.deepEqual(describeWriteError(wrapped), { reason: 'the disk reported an I/O error (EIO)', code: 'EIO' });
    assert.deepEqual(describeWriteError(new Error('odd')), { reason: 'odd', code: undefined });
  });
});
