import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { Job, JobState } from '../../../src/core/queue/jobModel';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { jobIdOfFile } from '../../../src/shared/supervisor/node/jobFilePaths';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { killSupervisorsOf, supervisorScript, waitUntil, untilJobState } from './supervisorTestKit';

/** A job's journals, logs and checkpoint files leave with it: on clearFinished, or in a later sweep. */
describe('supervisor: job files leave the disk with their jobs', function () {
  this.timeout(15_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner;
  let queue: JobQueue;

  const open = async (): Promise<void> => {
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000 });
    queue = await JobQueue.open({ log: new DurableQueueLog({ directory: join(dir, 'queue') }), runner, baseDir: dir, random: () => 0.5 });
  };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-jobfiles-'));
    jobsDir = join(dir, 'jobs');
    await open();
  });
  afterEach(async () => {
    await queue.dispose();
    await runner.dispose();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  const untilState = (id: string, states: readonly JobState[]): Promise<Job> => untilJobState(() => queue, id, states);
  const filesOf = (jobId: string): string[] =>
    readdirSync(jobsDir)
      .filter((name) => jobIdOfFile(name) === jobId)
      .sort();

  it('names the files of a run by job, whatever dots the job id holds', () => {
    assert.equal(jobIdOfFile('a.1.2.journal'), 'a.1');
    assert.equal(jobIdOfFile('a.1.previous.log'), 'a');
    assert.equal(jobIdOfFile('a%2Fb.3.checkpoint'), 'a/b');
    assert.equal(jobIdOfFile('a.3.checkpoint.tmp'), 'a');
    assert.equal(jobIdOfFile('supervisors.log'), undefined);
    assert.equal(jobIdOfFile('a.x.log'), undefined);
  });

  it('clearFinished deletes every file of the cleared jobs, of every attempt, and leaves the others', async () => {
    await queue.command({ type: 'setConcurrency', limit: 2 });
    // Fails once; retried by hand it runs as attempt 1 again (its first log and journal kept as .previous.*) and writes a checkpoint file.
    const counter = join(dir, 'count');
    const done = await queue.enqueue({
      jobId: 'done',
      definition: {
        name: 'done',
        command: `echo x >> ${counter}; printf cp > "$LIFELINE_CHECKPOINT_FILE"; [ $(wc -l < ${counter}) -ge 2 ]`,
      },
    });
    assert.equal((await untilState(done.id, ['failed', 'succeeded'])).state, 'failed');
    await queue.command({ type: 'retry', jobId: done.id });
    assert.equal((await untilState(done.id, ['failed', 'succeeded'])).state, 'succeeded');
    const failed = await queue.enqueue({
      jobId: 'done.1',
      definition: { name: 'fails twice', command: 'exit 3' },
      retry: { maxAttempts: 2, backoff: 'fixed', delayMs: 10, jitter: 0 },
    });
    await untilState(failed.id, ['failed']);
    // A running job whose id begins like a cleared one's keeps its files.
    const running = await queue.enqueue({
      jobId: 'done.1.1',
      definition: { name: 'runs', command: 'while [ ! -e go ]; do sleep 0.02; done' },
    });
    await untilState(running.id, ['running']);
    // Its journal, the journal's ack mark and its log.
    await waitUntil(() => filesOf(running.id).length >= 3, 5000, 'the running job has its files');

    // The first run's journal is moved aside, never deleted (#16), and goes with the job's other files.
    assert.deepEqual(filesOf(done.id), [
      'done.1.checkpoint',
      'done.1.journal',
      'done.1.journal.ackmark',
      'done.1.log',
      'done.1.previous.journal',
      'done.1.previous.journal.ackmark',
      'done.1.previous.log',
    ]);
    assert.deepEqual(filesOf(failed.id), [
      'done.1.1.journal',
      'done.1.1.journal.ackmark',
      'done.1.1.log',
      'done.1.2.journal',
      'done.1.2.journal.ackmark',
      'done.1.2.log',
    ]);
    const runningFiles = filesOf(running.id);

    assert.equal((await queue.command({ type: 'clearFinished' })).count, 2);
    await waitUntil(() => filesOf(done.id).length === 0 && filesOf(failed.id).length === 0, 5000, 'the cleared jobs have no files');
    assert.deepEqual(filesOf(running.id), runningFiles);
    assert.ok(existsSync(join(jobsDir, 'supervisors.log')), 'other files stay');

    writeFileSync(join(dir, 'go'), '');
    assert.equal((await untilState(running.id, ['succeeded', 'failed'])).state, 'succeeded');
  });

  it("a sweep deletes long-quiet files of jobs no longer in the queue, and keeps recent ones and the queue's", async () => {
    const kept = await queue.enqueue({ jobId: 'kept', definition: { name: 'kept', command: 'true' } });
    await untilState(kept.id, ['succeeded']);
    mkdirSync(jobsDir, { recursive: true });
    const old = (Date.now() - 24 * 3600_000) / 1000;
    for (const name of ['ghost.1.journal', 'ghost.1.log', 'ghost.2.checkpoint', 'recent.1.journal', 'recent.1.log']) {
      writeFileSync(join(jobsDir, name), 'x');
    }
    for (const name of ['ghost.1.journal', 'ghost.1.log', 'ghost.2.checkpoint', 'recent.1.log', ...filesOf(kept.id)]) {
      utimesSync(join(jobsDir, name), old, old);
    }
    const keptFiles = filesOf(kept.id);

    await runner.sweep((jobId) => queue.getJob(jobId) !== undefined);
    assert.deepEqual(filesOf('ghost'), []);
    assert.deepEqual(filesOf('recent'), ['recent.1.journal', 'recent.1.log'], 'one file changed lately: the run may be alive');
    assert.deepEqual(filesOf(kept.id), keptFiles);
  });
});
