import * as assert from 'node:assert/strict';
import type { QueueRecord } from '../../../src/core/queue/jobModel';
import { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import type { CommitOptions } from '../../../src/core/storage/durableStore';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

describe('jobs: scheduler', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  const waitFor = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
    assert.ok(condition(), 'the condition never held');
  };

  const add = async (name: string, extra: Record<string, unknown> = {}): Promise<string> =>
    (await h.queue.enqueue({ definition: { name, command: 'true', ...extra } })).id;

  it('never runs more jobs than the concurrency limit, and fills freed slots', async () => {
    h = await openHarness({ concurrency: 2 });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await add(`j${i}`));
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), ids.slice(0, 2));
    h.runner.exit(ids[0] as string, 0);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), ids.slice(0, 3));
    assert.equal(h.queue.getJob(ids[0] as string)?.state, 'succeeded');
    await h.queue.command({ type: 'setConcurrency', limit: 4 });
    await settle(h.queue);
    assert.equal(h.runner.running.size, 4);
  });

  it('starts a job once its running record is in the journal file, without waiting for the sync; the enqueue is acknowledged only after it', async () => {
    // A log whose records reach "the file" at once and "the disk" only when the test says so.
    class SlowSyncLog extends MemoryQueueLog {
      written: QueueRecord[] = [];
      readonly syncs: (() => void)[] = [];
      override async commit(records: readonly QueueRecord[], options: CommitOptions = {}): Promise<void> {
        this.written.push(...records);
        options.onWritten?.();
        await new Promise<void>((resolve) => this.syncs.push(resolve));
        await super.commit(records);
      }
    }
    const log = new SlowSyncLog();
    h = await openHarness({ log: () => log });
    await new Promise((resolve) => setImmediate(resolve));
    for (const sync of log.syncs.splice(0)) sync();
    let acknowledged = false;
    const enqueued = h.queue.enqueue({ definition: { name: 'fast', command: 'true' } }).then((job) => {
      acknowledged = true;
      return job;
    });
    await waitFor(() => h.runner.started.length === 1);
    const started = h.runner.started[0];
    const runningRecord = log.written.find((record) => record.t === 'job' && record.job.state === 'running');
    assert.ok(runningRecord, 'the running record was written before the start');
    assert.equal(started?.attempt, 1);
    assert.equal(acknowledged, false, 'the enqueue waits for its sync');
    for (const sync of log.syncs.splice(0)) sync();
    const job = await enqueued;
    assert.equal(job.name, 'fast');
  });

  it('starts nothing while paused, and resumes', async () => {
    h = await openHarness();
    await h.queue.command({ type: 'setPaused', paused: true });
    const a = await add('a');
    await settle(h.queue);
    assert.equal(h.runner.started.length, 0);
    await h.queue.command({ type: 'setPaused', paused: false });
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [a]);
  });

  it('starts by itself on open only with autoRun on and not paused (persisted flags)', async () => {
    h = await openHarness({ autoRun: false });
    await add('a');
    await h.reopen();
    await settle(h.queue);
    assert.equal(h.runner.started.length, 0, 'autoRun off');
    await h.queue.command({ type: 'setAutoRun', autoRun: true });
    await h.queue.command({ type: 'setPaused', paused: true });
    await h.reopen();
    await settle(h.queue);
    assert.equal(h.runner.started.length, 0, 'paused');
    assert.deepEqual(h.queue.flags, { paused: true, autoRun: true, concurrency: 1 });
    assert.equal(h.queue.isScheduling, false);
    await h.queue.command({ type: 'setPaused', paused: false });
    await h.reopen();
    assert.equal(h.queue.isScheduling, true, 'autoRun on, not paused');
    const b = await add('b');
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [b]);
  });

  it('retries with exponential backoff, then fails', async () => {
    h = await openHarness({ random: () => 0.5 });
    const id = await add('flaky', { retries: { maxAttempts: 3, backoff: 'exponential', delaySeconds: 1 } });
    await settle(h.queue);
    h.runner.exit(id, 1);
    await settle(h.queue);
    let job = h.queue.getJob(id);
    assert.equal(job?.state, 'delayed');
    assert.equal(job?.notBefore, h.clock.now() + 1000);
    h.clock.advance(999);
    await settle(h.queue);
    assert.equal(h.runner.started.length, 1);
    h.clock.advance(1);
    await settle(h.queue);
    assert.equal(h.runner.started.length, 2);
    assert.equal(h.runner.started[1]?.attempt, 2);
    h.runner.exit(id, 1);
    await settle(h.queue);
    assert.equal(h.queue.getJob(id)?.notBefore, h.clock.now() + 2000, 'doubles');
    h.clock.advance(2000);
    await settle(h.queue);
    h.runner.exit(id, 1);
    await settle(h.queue);
    job = h.queue.getJob(id);
    assert.equal(job?.state, 'failed');
    assert.equal(job?.attempts, 3);
    assert.equal(job?.result?.error, 'exited with code 1');
  });

  it('spreads backoff by the jitter and keeps fixed backoff fixed', async () => {
    h = await openHarness({ random: () => 1 });
    const id = await h.queue.enqueue({
      definition: { name: 'j', command: 'true', retries: { maxAttempts: 2, backoff: 'fixed', delaySeconds: 10 } },
      retry: { jitter: 0.5 },
    });
    await settle(h.queue);
    h.runner.exit(id.id, 3);
    await settle(h.queue);
    assert.equal(h.queue.getJob(id.id)?.notBefore, h.clock.now() + 15_000);
  });

  it('does not retry an exit code marked non-retryable', async () => {
    h = await openHarness();
    const id = await add('strict', { retries: { maxAttempts: 5, doNotRetryExitCodes: [2] } });
    await settle(h.queue);
    h.runner.exit(id, 2);
    await settle(h.queue);
    assert.equal(h.queue.getJob(id)?.state, 'failed');
    assert.equal(h.runner.started.length, 1);
  });

  it('does not retry a run its runner reports as unrecoverable', async () => {
    h = await openHarness();
    const id = await add('doomed', { retries: { maxAttempts: 5 } });
    await settle(h.queue);
    const attempt = h.runner.running.get(id)?.attempt ?? 0;
    h.runner.running.delete(id);
    h.runner.emit({ type: 'exited', jobId: id, attempt, exitCode: null, signal: null, error: 'no such stage', unrecoverable: true });
    await settle(h.queue);
    assert.equal(h.queue.getJob(id)?.state, 'failed');
    assert.equal(h.queue.getJob(id)?.result?.error, 'no such stage');
    assert.equal(h.runner.started.length, 1);
  });

  it('kills a job at its timeout and a stage at its own', async () => {
    h = await openHarness({ concurrency: 2 });
    const slow = await add('slow', { timeoutSeconds: 5 });
    const staged = (
      await h.queue.enqueue({
        definition: {
          name: 'staged',
          stages: [
            { name: 'one', command: 'true', timeoutSeconds: 2 },
            { name: 'two', command: 'true' },
          ],
        },
      })
    ).id;
    await settle(h.queue);
    h.clock.advance(1999);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, []);
    h.clock.advance(1);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [staged]);
    assert.equal(h.queue.getJob(staged)?.state, 'failed');
    assert.equal(h.queue.getJob(staged)?.result?.error, 'stage "one" timed out after 2 s');
    h.clock.advance(3000);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [staged, slow]);
    assert.equal(h.queue.getJob(slow)?.result?.error, 'timed out after 5 s');
  });

  it('cancels a waiting job at once and a running one through the runner', async () => {
    h = await openHarness();
    const a = await add('a');
    const b = await add('b');
    await settle(h.queue);
    await h.queue.command({ type: 'cancel', jobId: b });
    assert.equal(h.queue.getJob(b)?.state, 'cancelled');
    await h.queue.command({ type: 'cancel', jobId: a });
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [a]);
    assert.equal(h.queue.getJob(a)?.state, 'cancelled');
    await assert.rejects(
      h.queue.command({ type: 'cancel', jobId: a }),
      (error: Error & { reason?: string }) => error.reason === 'invalidState',
    );
  });

  it('records progress, checkpoints and completed stages, and resumes an interrupted pipeline from the next stage', async () => {
    h = await openHarness();
    const id = (
      await h.queue.enqueue({
        definition: {
          name: 'p',
          stages: [
            { name: 'fetch', command: 'true' },
            { name: 'train', command: 'true' },
            { name: 'report', command: 'true' },
          ],
        },
      })
    ).id;
    await settle(h.queue);
    h.runner.emit({ type: 'progress', jobId: id, attempt: 1, fraction: 0.25, message: 'fetching' });
    h.runner.finishStage(id, 0);
    h.runner.emit({ type: 'checkpoint', jobId: id, attempt: 1, checkpoint: 'epoch=3' });
    await settle(h.queue);
    let job = h.queue.getJob(id);
    assert.deepEqual(job?.completedStages, ['fetch']);
    assert.equal(job?.currentStage, 1);
    assert.equal(job?.checkpoint, 'epoch=3');
    await h.reopen();
    job = h.queue.getJob(id);
    assert.equal(job?.state, 'interrupted');
    await h.queue.command({ type: 'resume', jobId: id });
    await settle(h.queue);
    assert.equal(h.runner.started[0]?.fromStage, 1);
    assert.equal(h.runner.started[0]?.checkpoint, 'epoch=3');
    h.runner.finishStage(id, 1);
    h.runner.finishStage(id, 2);
    await settle(h.queue);
    job = h.queue.getJob(id);
    assert.equal(job?.state, 'succeeded');
    assert.deepEqual(job?.completedStages, ['fetch', 'train', 'report']);
  });

  it('commits a burst of progress at most every 250 ms, keeping the latest', async () => {
    h = await openHarness();
    const id = await add('chatty');
    await settle(h.queue);
    const log = h.log as MemoryQueueLog;
    const before = log.commits;
    for (let i = 1; i <= 50; i++) h.runner.emit({ type: 'progress', jobId: id, attempt: 1, fraction: i / 100, message: `step ${i}` });
    await settle(h.queue);
    assert.equal(log.commits, before + 1);
    assert.equal(h.queue.getJob(id)?.progress?.fraction, 0.01);
    h.clock.advance(250);
    await settle(h.queue);
    assert.equal(log.commits, before + 2);
    assert.deepEqual(h.queue.getJob(id)?.progress, { fraction: 0.5, message: 'step 50' });
  });

  it('retries a finished job from scratch, and clears finished jobs', async () => {
    h = await openHarness();
    const a = await add('a');
    await settle(h.queue);
    h.runner.exit(a, 1);
    await settle(h.queue);
    await h.queue.command({ type: 'retry', jobId: a });
    await settle(h.queue);
    assert.equal(h.runner.started.length, 2);
    assert.equal(h.runner.started[1]?.attempt, 1);
    h.runner.exit(a, 0);
    await add('b');
    await settle(h.queue);
    const { count } = await h.queue.command({ type: 'clearFinished' });
    assert.equal(count, 1);
    assert.equal(h.queue.getJob(a), undefined);
    assert.equal(h.queue.jobs.length, 1);
  });
});
