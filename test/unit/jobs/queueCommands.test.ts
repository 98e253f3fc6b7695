import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobError } from '../../../src/core/jobs/jobErrors';
import type { QueueEvent } from '../../../src/core/jobs/jobQueue';
import type { MemoryQueueLog } from '../../../src/core/jobs/queueLog';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

describe('jobs: commands, validation and exactly-once', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness({ autoRun: false });
  });
  afterEach(() => h.dispose());

  const refused = (reason: string, text: RegExp) => (error: unknown) => JobError.is(error, reason as never) && text.test((error as Error).message);

  it('refuses at enqueue a job that cannot run, naming the problem', async () => {
    await assert.rejects(h.queue.enqueue({ definition: { name: 'x', command: '   ' } }), refused('invalidJob', /command: a command cannot be empty/));
    await assert.rejects(h.queue.enqueue({ definition: { name: 'x', command: 'true', cwd: 'no/such/dir' } }), refused('invalidJob', /working directory .*no\/such\/dir does not exist/));
    await assert.rejects(
      h.queue.enqueue({ definition: { name: 'x', stages: [{ name: 'a', command: 'true' }, { name: 'a', command: 'true' }] } }),
      refused('invalidJob', /two stages share one name/),
    );
    await assert.rejects(h.queue.enqueue({ definition: { name: 'x', stages: [{ name: 'a', command: 'true', cwd: 'gone' }] } }), refused('invalidJob', /stage "a": the working directory/));
    await assert.rejects(h.queue.enqueue({ definition: { name: 'x', stages: [] } }), refused('invalidJob', /at least one stage/));
    assert.equal(h.queue.jobs.length, 0);
  });

  it('validates every command with a typed error', async () => {
    await assert.rejects(h.queue.execute({ commandId: randomUUID(), command: { type: 'explode' } }), refused('invalidCommand', /Invalid command/));
    await assert.rejects(h.queue.execute({ commandId: randomUUID(), command: { type: 'setConcurrency', limit: 0 } }), refused('invalidCommand', /limit/));
    await assert.rejects(h.queue.command({ type: 'cancel', jobId: 'nope' }), refused('jobNotFound', /nope/));
    const job = await h.queue.enqueue({ definition: { name: 'a', command: 'true' } });
    await assert.rejects(h.queue.command({ type: 'retry', jobId: job.id }), refused('invalidState', /queued/));
    await assert.rejects(h.queue.enqueue({ jobId: job.id, definition: { name: 'b', command: 'true' } }), refused('duplicateJob', /already/));
  });

  it('resolves relative working directories against the base directory', async () => {
    const job = await h.queue.enqueue({ definition: { name: 'a', command: 'true', cwd: '.' } });
    assert.equal(job.stages[0]?.cwd, h.dir);
    const pipeline = await h.queue.enqueue({ definition: { name: 'p', cwd: '/', stages: [{ name: 's', command: 'true', cwd: 'tmp' }] } });
    assert.equal(pipeline.stages[0]?.cwd, join('/', 'tmp'));
  });

  it('applies a command id once: again at once, again later, and again after a restart', async () => {
    const envelope = { commandId: randomUUID(), command: { type: 'enqueue' as const, definition: { name: 'once', command: 'true' } } };
    const [first, second] = await Promise.all([h.queue.execute(envelope), h.queue.execute(envelope)]);
    assert.equal(first.jobId, second.jobId);
    assert.equal((await h.queue.execute(envelope)).jobId, first.jobId);
    await h.reopen();
    assert.equal((await h.queue.execute(envelope)).jobId, first.jobId);
    assert.equal(h.queue.jobs.length, 1);
  });

  it('applies commands in the order they arrive, although an enqueue checks the disk first', async () => {
    const enqueue = h.queue.enqueue({ jobId: 'first', definition: { name: 'a', command: 'true' } });
    const cancel = h.queue.command({ type: 'cancel', jobId: 'first' });
    await Promise.all([enqueue, cancel]);
    assert.equal(h.queue.getJob('first')?.state, 'cancelled');
  });

  it('makes every command one commit, and announces it only once on disk', async () => {
    const log = h.log as MemoryQueueLog;
    const events: QueueEvent[] = [];
    h.queue.onDidChange((event) => events.push(event));
    const before = log.commits;
    const pending = h.queue.enqueue({ definition: { name: 'a', command: 'true' } });
    assert.equal(events.length, 0, 'nothing is announced before the commit');
    const job = await pending;
    assert.equal(log.commits, before + 1);
    assert.deepEqual(events, [{ type: 'jobChanged', job, previousState: undefined }]);
    await h.queue.command({ type: 'setPaused', paused: true });
    assert.equal(log.commits, before + 2);
    assert.equal(events[1]?.type, 'flagsChanged');
  });

  it('stops acknowledging anything once a commit failed', async () => {
    const log = h.log as MemoryQueueLog;
    log.failNext = new Error('EIO');
    await assert.rejects(h.queue.enqueue({ definition: { name: 'a', command: 'true' } }), refused('storageFailed', /EIO/));
    await assert.rejects(h.queue.enqueue({ definition: { name: 'b', command: 'true' } }), refused('storageFailed', /EIO/));
  });

  it('marks jobs left running by a closed queue as interrupted, and a cancelled one as cancelled', async () => {
    h.queue.start();
    await h.queue.command({ type: 'setConcurrency', limit: 2 });
    const a = await h.queue.enqueue({ definition: { name: 'a', command: 'true' } });
    const b = await h.queue.enqueue({ definition: { name: 'b', command: 'true' } });
    await settle(h.queue);
    // Cancelled, but the queue closes before the runner reports the exit.
    h.runner.kill = () => undefined;
    await h.queue.command({ type: 'cancel', jobId: b.id });
    await h.reopen();
    assert.equal(h.queue.getJob(a.id)?.state, 'interrupted');
    assert.equal(h.queue.getJob(b.id)?.state, 'cancelled');
  });
});
