import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { JobError } from '../../../src/core/queue/jobErrors';
import type { QueueEvent } from '../../../src/core/queue/jobQueue';
import type { MemoryQueueLog } from '../../../src/core/queue/queueLog';
import type { Harness } from './jobTestKit';
import { openHarness, settle } from './jobTestKit';

describe('jobs: commands, validation and exactly-once', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness({ autoRun: false });
  });
  afterEach(() => h.dispose());

  const refused = (reason: string, text: RegExp) => (error: unknown) =>
    JobError.is(error, reason as never) && text.test((error as Error).message);

  it('refuses at enqueue a job that cannot run, naming the problem', async () => {
    await assert.rejects(
      h.queue.enqueue({ definition: { name: 'x', command: '   ' } }),
      refused('invalidJob', /command: a command cannot be empty/),
    );
    await assert.rejects(
      h.queue.enqueue({ definition: { name: 'x', command: 'true', cwd: 'no/such/dir' } }),
      refused('invalidJob', /working directory .*no\/such\/dir does not exist/),
    );
    await assert.rejects(
      h.queue.enqueue({
        definition: {
          name: 'x',
          stages: [
            { name: 'a', command: 'true' },
            { name: 'a', command: 'true' },
          ],
        },
      }),
      refused('invalidJob', /two stages share one name/),
    );
    await assert.rejects(
      h.queue.enqueue({ definition: { name: 'x', stages: [{ name: 'a', command: 'true', cwd: 'gone' }] } }),
      refused('invalidJob', /stage "a": the working directory/),
    );
    await assert.rejects(h.queue.enqueue({ definition: { name: 'x', stages: [] } }), refused('invalidJob', /at least one stage/));
    assert.equal(h.queue.jobs.length, 0);
  });

  it('takes killGraceSeconds from a stage, else its job; a job without one is stored as before', async () => {
    const piped = await h.queue.enqueue({
      definition: {
        name: 'p',
        killGraceSeconds: 2,
        stages: [
          { name: 'a', command: 'true' },
          { name: 'b', command: 'true', killGraceSeconds: 0.5 },
        ],
      },
    });
    assert.deepEqual(
      piped.stages.map((stage) => stage.killGraceMs),
      [2000, 500],
    );
    const command = await h.queue.enqueue({ definition: { name: 'c', command: 'true', killGraceSeconds: 0 } });
    assert.equal(command.stages[0]?.killGraceMs, 0);
    const plain = await h.queue.enqueue({ definition: { name: 'd', command: 'true' } });
    assert.equal('killGraceMs' in (plain.stages[0] ?? {}), false);
    await assert.rejects(
      h.queue.enqueue({ definition: { name: 'x', command: 'true', killGraceSeconds: -1 } }),
      refused('invalidJob', /killGraceSeconds/),
    );
  });

  it('validates every command with a typed error', async () => {
    await assert.rejects(
      h.queue.execute({ commandId: randomUUID(), command: { type: 'explode' } }),
      refused('invalidCommand', /Invalid command/),
    );
    await assert.rejects(
      h.queue.execute({ commandId: randomUUID(), command: { type: 'setConcurrency', limit: 0 } }),
      refused('invalidCommand', /limit/),
    );
    await assert.rejects(h.queue.command({ type: 'cancel', jobId: 'nope' }), refused('jobNotFound', /nope/));
    const job = await h.queue.enqueue({ definition: { name: 'a', command: 'true' } });
    await assert.rejects(h.queue.command({ type: 'retry', jobId: job.id }), refused('invalidState', /queued/));
    await assert.rejects(
      h.queue.enqueue({ jobId: job.id, definition: { name: 'b', command: 'true' } }),
      refused('duplicateJob', /already/),
    );
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

  it('rejects a command whose commit failed, and takes the next one (failedCommit.test.ts has the rest)', async () => {
    const log = h.log as MemoryQueueLog;
    log.failNext = new Error('EIO');
    await assert.rejects(h.queue.enqueue({ definition: { name: 'a', command: 'true' } }), refused('storageFailed', /EIO/));
    const b = await h.queue.enqueue({ definition: { name: 'b', command: 'true' } });
    assert.deepEqual(
      h.queue.jobs.map((job) => job.id),
      [b.id],
    );
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

  it('counts interruptions in a row, carries the count through resume, and clears it when the job ends', async () => {
    h.queue.start();
    const job = await h.queue.enqueue({ definition: { name: 'flaky host', command: 'true' } });
    await settle(h.queue);
    for (const expected of [1, 2]) {
      await h.reopen();
      assert.equal(h.queue.getJob(job.id)?.state, 'interrupted');
      assert.equal(h.queue.getJob(job.id)?.interruptions, expected);
      h.queue.start();
      await h.queue.command({ type: 'resume', jobId: job.id });
      await settle(h.queue);
      assert.equal(h.queue.getJob(job.id)?.state, 'running');
    }
    h.runner.exit(job.id, 0);
    await settle(h.queue);
    assert.equal(h.queue.getJob(job.id)?.state, 'succeeded');
    assert.equal(h.queue.getJob(job.id)?.interruptions, 0);
  });

  it('discards an interrupted job: removes the declared outputs of its unfinished stages only, and ends it abandoned', async () => {
    const { mkdirSync, writeFileSync, existsSync } = await import('node:fs');
    mkdirSync(join(h.dir, 'out'), { recursive: true });
    h.queue.start();
    const job = await h.queue.enqueue({
      definition: {
        name: 'render',
        stages: [
          { name: 'fetch', command: 'true', outputs: ['out/raw.txt'] },
          // '.' is the stage's own folder: declared, but never removed.
          { name: 'render', command: 'true', outputs: ['out/frames', 'out/video.mp4', '.'] },
        ],
      },
    });
    await settle(h.queue);
    h.runner.emit({ type: 'stageFinished', jobId: job.id, attempt: 1, stage: 0, exitCode: 0, signal: null });
    h.runner.emit({ type: 'stageStarted', jobId: job.id, attempt: 1, stage: 1 });
    await settle(h.queue);
    writeFileSync(join(h.dir, 'out', 'raw.txt'), 'done');
    mkdirSync(join(h.dir, 'out', 'frames'));
    writeFileSync(join(h.dir, 'out', 'frames', '0001.png'), 'partial');
    await assert.rejects(
      h.queue.command({ type: 'discard', jobId: job.id }),
      refused('invalidState', /only an interrupted job can be discarded/),
    );
    await h.reopen();
    const events: QueueEvent[] = [];
    h.queue.onDidChange((event) => events.push(event));
    const result = await h.queue.command({ type: 'discard', jobId: job.id });
    assert.equal(result.count, 3);
    const discarded = h.queue.getJob(job.id);
    assert.equal(discarded?.state, 'cancelled');
    assert.equal(discarded?.abandoned, true);
    assert.equal(discarded?.interruptions, 0);
    assert.ok(events.some((event) => event.type === 'jobChanged' && event.job.id === job.id && event.previousState === 'interrupted'));
    await waitUntilGone(join(h.dir, 'out', 'frames'));
    assert.ok(existsSync(join(h.dir, 'out', 'raw.txt')), 'the finished stage keeps its output, and the working folder stays');
    await h.reopen();
    assert.equal(h.queue.getJob(job.id)?.abandoned, true, 'the decision is durable');
  });
});

async function waitUntilGone(path: string): Promise<void> {
  const { existsSync } = await import('node:fs');
  while (existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 5));
}
