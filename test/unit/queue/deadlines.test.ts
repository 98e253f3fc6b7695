import * as assert from 'node:assert/strict';
import { ManualClock, MAX_TIMER_MS, setDeadline } from '../../../src/core/clock';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

const DAY = 86_400_000;

describe('jobs: durable deadlines', () => {
  let h: Harness;
  afterEach(() => h.dispose());

  it('starts a delayed job at its time, not before', async () => {
    h = await openHarness();
    const job = await h.queue.enqueue({ definition: { name: 'later', command: 'true' }, runAt: h.clock.now() + 10_000 });
    assert.equal(job.state, 'delayed');
    h.clock.advance(9_999);
    await settle(h.queue);
    assert.equal(h.runner.started.length, 0);
    h.clock.advance(1);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [job.id]);
  });

  it('fires at once, after a reopen, a delayed start that came due while the queue was closed', async () => {
    h = await openHarness({ log: (dir) => new DurableQueueLog({ directory: dir }) });
    const job = await h.queue.enqueue({ definition: { name: 'later', command: 'true' }, runAt: h.clock.now() + 3_600_000 });
    await h.reopen({ jump: 2 * 3_600_000 });
    assert.equal(h.queue.getJob(job.id)?.state, 'delayed');
    h.clock.advance(0);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [job.id]);
  });

  it('re-arms a backoff with only the time it has left after a reopen', async () => {
    h = await openHarness({ log: (dir) => new DurableQueueLog({ directory: dir }) });
    const job = await h.queue.enqueue({
      definition: { name: 'flaky', command: 'true', retries: { maxAttempts: 2, backoff: 'fixed', delaySeconds: 60 } },
      retry: { jitter: 0 },
    });
    await settle(h.queue);
    h.runner.exit(job.id, 1);
    await settle(h.queue);
    await h.reopen({ jump: 45_000 });
    h.clock.advance(14_999);
    await settle(h.queue);
    assert.equal(h.runner.started.length, 0);
    h.clock.advance(1);
    await settle(h.queue);
    assert.equal(h.runner.started[0]?.attempt, 2);
  });

  it('re-arms the timeout of an adopted running job with the time it has left, and fires a stage timeout that passed at once', async () => {
    h = await openHarness({ concurrency: 2 });
    const whole = await h.queue.enqueue({ definition: { name: 'whole', command: 'true', timeoutSeconds: 60 } });
    const staged = await h.queue.enqueue({
      definition: { name: 'staged', stages: [{ name: 'one', command: 'true', timeoutSeconds: 10 }] },
    });
    await settle(h.queue);
    await h.reopen({ jump: 45_000, adopt: true });
    assert.deepEqual(h.runner.adopted.sort(), [whole.id, staged.id].sort());
    assert.equal(h.queue.getJob(whole.id)?.state, 'running');
    h.clock.advance(0);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [staged.id], 'the stage deadline passed while closed');
    h.clock.advance(14_999);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [staged.id]);
    h.clock.advance(1);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [staged.id, whole.id]);
    assert.equal(h.queue.getJob(whole.id)?.result?.error, 'timed out after 1 min');
  });

  it('a stage start replayed after adoption keeps the time its stage already used: its limit is not restarted', async () => {
    h = await openHarness();
    const job = await h.queue.enqueue({ definition: { name: 'staged', stages: [{ name: 'one', command: 'true', timeoutSeconds: 10 }] } });
    await settle(h.queue);
    await h.reopen({ adopt: true });
    // The adopted run's journal is replayed: its stage started 8 s ago by the supervisor's clock.
    h.runner.emit({ type: 'stageStarted', jobId: job.id, attempt: 1, stage: 0, at: Date.now() - 8000 });
    await settle(h.queue);
    h.clock.advance(1900);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, []);
    h.clock.advance(200);
    await settle(h.queue);
    assert.deepEqual(h.runner.killed, [job.id], 'the stage had 2 s left, not 10');
  });

  it('chunks a wait longer than the platform timer limit (ManualClock refuses longer timers)', async () => {
    h = await openHarness();
    const job = await h.queue.enqueue({ definition: { name: 'next month', command: 'true' }, runAt: h.clock.now() + 40 * DAY });
    h.clock.advance(39 * DAY);
    await settle(h.queue);
    assert.equal(h.runner.started.length, 0);
    h.clock.advance(DAY);
    await settle(h.queue);
    assert.deepEqual(h.runner.startedIds(), [job.id]);
  });

  it('setDeadline: fires once at the absolute time, honours a clock that jumped, and disposes', () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    setDeadline(clock, 3 * MAX_TIMER_MS, () => fired.push(clock.now()));
    clock.advance(MAX_TIMER_MS);
    clock.jump(MAX_TIMER_MS + 10);
    clock.advance(MAX_TIMER_MS);
    assert.deepEqual(fired, [3 * MAX_TIMER_MS]);
    const handle = setDeadline(clock, clock.now() + 5, () => fired.push(-1));
    handle.dispose();
    clock.advance(10);
    assert.equal(fired.length, 1);
    assert.equal(clock.pendingTimers, 0);
  });
});
