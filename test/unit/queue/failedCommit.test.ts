import * as assert from 'node:assert/strict';
import { JobError } from '../../../src/core/queue/jobErrors';
import type { QueueEvent, SavingStatus } from '../../../src/core/queue/jobQueue';
import { UNSAVED_RETRY_MS } from '../../../src/core/queue/jobQueue';
import type { QueueRecord } from '../../../src/core/queue/jobModel';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import { FencedQueueLog } from '../../../src/core/session/fencedQueueLog';
import { StorageError } from '../../../src/core/storage/errors';
import type { CommitOptions } from '../../../src/core/storage/durableStore';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

/** Issue 16, "a failed write never freezes the queue": a failed commit is rejected and undone, the next one is tried. */
describe('jobs: a failed commit never freezes the queue', () => {
  let h: Harness;
  let log: MemoryQueueLog;
  afterEach(() => h.dispose());

  const open = async (autoRun: boolean) => {
    h = await openHarness({ autoRun });
    log = h.log as MemoryQueueLog;
  };
  const define = (name: string) => ({ jobId: name, definition: { name, command: 'true' } });

  it('undoes a failed command in memory, names a full disk, and takes the next command', async () => {
    await open(false);
    const statuses: SavingStatus['state'][] = [];
    h.queue.onDidChangeSaving((status) => statuses.push(status.state));
    const events: QueueEvent[] = [];
    h.queue.onDidChange((event) => events.push(event));
    log.failNext = new StorageError('diskFull', 'The disk is full.');
    await assert.rejects(h.queue.enqueue(define('a')), (error) => JobError.is(error, 'diskFull'));
    assert.equal(h.queue.getJob('a'), undefined, 'the failed enqueue is taken back');
    assert.equal(h.queue.savingStatus.state, 'notSaving');
    assert.deepEqual(events, [], 'nothing is announced for a change that is not on disk');

    log.failNext = new Error('EIO');
    await assert.rejects(h.queue.command({ type: 'setPaused', paused: true }), (error) => JobError.is(error, 'storageFailed'));
    assert.equal(h.queue.flags.paused, false);

    await h.queue.enqueue(define('b'));
    await h.queue.enqueue(define('a'));
    assert.equal(h.queue.savingStatus.state, 'saved');
    assert.deepEqual(statuses.filter((state) => state !== 'saving').slice(0, 2), ['notSaving', 'saved']);
    const queue = await h.reopen();
    assert.deepEqual(
      queue.jobs.map((job) => job.id),
      ['b', 'a'],
    );
  });

  it('a command that failed can be sent again with the same id', async () => {
    await open(false);
    log.failNext = new Error('EIO');
    const envelope = { commandId: 'c1', command: { type: 'enqueue', ...define('a') } };
    await assert.rejects(h.queue.execute(envelope), (error) => JobError.is(error, 'storageFailed'));
    assert.deepEqual(await h.queue.execute(envelope), { jobId: 'a' });
    assert.equal(h.queue.dedupedCommands, 0, 'the failed attempt left no answer behind');
  });

  it('keeps a run that ended while the disk failed, and writes it with the next commit', async () => {
    await open(true);
    await h.queue.enqueue(define('a'));
    await settle(h.queue);
    assert.equal(h.queue.getJob('a')?.state, 'running');
    const events: QueueEvent[] = [];
    h.queue.onDidChange((event) => events.push(event));
    log.failNext = new Error('EIO');
    h.runner.exit('a', 0);
    await settle(h.queue);
    assert.equal(h.queue.getJob('a')?.state, 'succeeded', 'what happened stays in memory');
    const status = h.queue.savingStatus;
    assert.ok(status.state === 'notSaving' && status.unsaved === 1);

    await h.queue.enqueue(define('b'));
    await settle(h.queue);
    const ended = events.filter((event) => event.type === 'jobChanged' && event.job.id === 'a');
    assert.equal(
      ended.length,
      1,
      `the end of the run is announced once, when it is on disk: ${JSON.stringify(ended.map((e) => e.type === 'jobChanged' && [e.previousState, e.job.state]))}`,
    );
    assert.equal(ended[0]?.type === 'jobChanged' && ended[0].previousState, 'running');
    assert.equal(h.queue.savingStatus.state !== 'notSaving', true);
    const queue = await h.reopen();
    assert.equal(queue.getJob('a')?.state, 'succeeded');
  });

  it('writes what it kept by itself after a while, with no command', async () => {
    await open(true);
    await h.queue.enqueue(define('a'));
    await settle(h.queue);
    log.failNext = new Error('EIO');
    h.runner.exit('a', 0);
    await settle(h.queue);
    assert.equal(h.queue.savingStatus.state, 'notSaving');
    h.clock.advance(UNSAVED_RETRY_MS);
    await settle(h.queue);
    assert.equal(h.queue.savingStatus.state, 'saved');
    const queue = await h.reopen();
    assert.equal(queue.getJob('a')?.state, 'succeeded');
  });

  it('a start whose record failed leaves the job queued, and starts it once the disk works', async () => {
    await open(true);
    // The enqueue commits; the start that follows it fails before it reached the file: no process.
    const commit = log.commit.bind(log);
    let commits = 0;
    log.commit = (records: readonly QueueRecord[], options?: CommitOptions) =>
      ++commits === 2 ? Promise.reject(new Error('EIO')) : commit(records, options);
    await h.queue.enqueue(define('a'));
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), []);
    assert.equal(h.queue.getJob('a')?.state, 'queued');
    h.clock.advance(UNSAVED_RETRY_MS);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), ['a']);
    assert.equal(h.queue.getJob('a')?.state, 'running');
  });

  it('a cancel that failed leaves the running job alone; sent again, it stops it', async () => {
    await open(true);
    await h.queue.enqueue(define('a'));
    await settle(h.queue);
    log.failNext = new Error('EIO');
    await assert.rejects(h.queue.command({ type: 'cancel', jobId: 'a' }), (error) => JobError.is(error, 'storageFailed'));
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, []);
    assert.equal(h.queue.getJob('a')?.stopReason, undefined);
    assert.equal(h.queue.getJob('a')?.state, 'running');
    await h.queue.command({ type: 'cancel', jobId: 'a' });
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, ['a']);
    assert.equal(h.queue.getJob('a')?.state, 'cancelled');
  });

  it('a lost lease still stops every write for good', async () => {
    let holder = true;
    h = await openHarness({ autoRun: false, log: () => new FencedQueueLog(new MemoryQueueLog(), () => holder) });
    await h.queue.enqueue(define('a'));
    holder = false;
    await assert.rejects(h.queue.enqueue(define('b')), (error) => JobError.is(error, 'leaseLost'));
    holder = true;
    await assert.rejects(h.queue.enqueue(define('c')), (error) => JobError.is(error, 'leaseLost'));
    assert.deepEqual(
      h.queue.jobs.map((job) => job.id),
      ['a'],
    );
  });
});
