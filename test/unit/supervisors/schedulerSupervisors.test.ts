import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/core/clock';
import { ManualClock, systemClock } from '../../../src/core/clock';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { Job, JobState } from '../../../src/core/queue/jobModel';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { isAlive } from '../drivenProcess';
import { jobRecords, killSupervisorsOf, supervisorScript, waitUntil } from './supervisorTestKit';

/**
 * The real scheduler on the real durable queue, running jobs in real supervisors: what the user's
 * controls (timeouts, cancel, retries, delayed start) do to real process trees.
 */
describe('supervisor: scheduler with real supervisors and the durable queue', function () {
  this.timeout(15_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner;
  let queue: JobQueue;

  /** The scheduler's clock: real, or manual where a test decides when a deadline passes. */
  const open = async (clock: Clock = systemClock): Promise<JobQueue> => {
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000 });
    queue = await JobQueue.open({
      log: new DurableQueueLog({ directory: join(dir, 'queue') }),
      runner,
      baseDir: dir,
      clock,
      random: () => 0.5,
    });
    return queue;
  };
  /** Reopens the (still empty) queue on a manual clock. */
  const openManual = async (): Promise<ManualClock> => {
    await close();
    const clock = new ManualClock(Date.now());
    await open(clock);
    return clock;
  };
  /** The host goes: the queue closes, the runner detaches (supervisors keep what they run). */
  const close = async (): Promise<void> => {
    await queue.dispose();
    await runner.dispose();
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-schedsup-'));
    jobsDir = join(dir, 'jobs');
    await open();
  });
  afterEach(async () => {
    await close();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves once the job's committed state is one of `states`. */
  const untilState = (id: string, states: readonly JobState[], timeoutMs = 8000): Promise<Job> =>
    new Promise((resolve, reject) => {
      const current = queue.getJob(id);
      if (current && states.includes(current.state)) return resolve(current);
      const timer = setTimeout(() => {
        subscription.dispose();
        reject(new Error(`job ${id} is ${JSON.stringify(queue.getJob(id))}, not ${states.join('|')}, after ${timeoutMs} ms`));
      }, timeoutMs);
      const subscription = queue.onDidChange((event) => {
        if (event.type === 'jobChanged' && event.job.id === id && states.includes(event.job.state)) {
          clearTimeout(timer);
          subscription.dispose();
          resolve(event.job);
        }
      });
    });

  const pidsIn = (names: readonly string[]): number[] => names.map((name) => Number(readFileSync(join(dir, name), 'utf8').trim()));
  const allWritten = (names: readonly string[]) => (): boolean =>
    names.every((name) => existsSync(join(dir, name)) && readFileSync(join(dir, name), 'utf8').trim() !== '');
  const allGone = async (pids: readonly number[]): Promise<void> =>
    waitUntil(() => pids.every((pid) => !isAlive(pid)), 3000, `processes ${pids.join(', ')} are gone`);

  /** A stage whose shell (child) runs a sleep (grandchild) and a shell that runs another sleep (great-grandchild). */
  const treeCommand = (prefix: string): string =>
    `sh -c 'sleep 1000 & echo $! > ${prefix}-deep.pid; wait' & sleep 1000 & echo $! > ${prefix}-grandchild.pid; echo $$ > ${prefix}-child.pid; wait`;
  const treePids = (prefix: string): string[] => [`${prefix}-child.pid`, `${prefix}-grandchild.pid`, `${prefix}-deep.pid`];

  it('a per-job timeout kills the stage with its children and grandchildren, and the job fails as timed out', async () => {
    const clock = await openManual();
    const job = await queue.enqueue({ definition: { name: 'slow', command: treeCommand('job'), timeoutSeconds: 30 } });
    await waitUntil(allWritten(treePids('job')), 5000, 'the tree started');
    const pids = pidsIn(treePids('job'));
    assert.ok(pids.every(isAlive));
    clock.advance(30_000);
    const ended = await untilState(job.id, ['failed', 'succeeded', 'cancelled', 'interrupted']);
    assert.equal(ended.state, 'failed');
    assert.match(ended.result?.error ?? '', /timed out after 30 s/);
    assert.equal(ended.attempts, 1);
    await allGone(pids);
  });

  it('a per-stage timeout kills its tree; later stages never run', async () => {
    const clock = await openManual();
    const job = await queue.enqueue({
      definition: {
        name: 'stages',
        stages: [
          { name: 'a', command: 'true' },
          { name: 'b', command: treeCommand('stage'), timeoutSeconds: 30 },
          { name: 'c', command: 'touch never.txt' },
        ],
      },
    });
    // The stage's deadline is armed when the host hears that it started.
    await waitUntil(() => allWritten(treePids('stage'))() && queue.getJob(job.id)?.stageDeadlineAt !== undefined, 5000, 'stage b started');
    const pids = pidsIn(treePids('stage'));
    assert.ok(pids.every(isAlive));
    clock.advance(30_000);
    const ended = await untilState(job.id, ['failed', 'succeeded', 'cancelled', 'interrupted']);
    assert.equal(ended.state, 'failed');
    assert.match(ended.result?.error ?? '', /stage "b" timed out after 30 s/);
    assert.deepEqual(ended.completedStages, ['a']);
    assert.equal(existsSync(join(dir, 'never.txt')), false);
    await allGone(pids);
  });

  it('cancel kills the whole tree and the job ends cancelled', async () => {
    const job = await queue.enqueue({ definition: { name: 'cancel-me', command: treeCommand('cancel') } });
    await waitUntil(allWritten(treePids('cancel')), 5000, 'the tree started');
    const pids = pidsIn(treePids('cancel'));
    assert.ok(pids.every(isAlive));
    await queue.command({ type: 'cancel', jobId: job.id });
    const ended = await untilState(job.id, ['failed', 'succeeded', 'cancelled', 'interrupted']);
    assert.equal(ended.state, 'cancelled');
    // A stop starts with SIGTERM, which this shell does not trap.
    assert.equal(ended.result?.signal, 'SIGTERM');
    await allGone(pids);
  });

  it('retries a stage that fails twice, then succeeds: one run per attempt, attempts 3', async () => {
    const counter = join(dir, 'count');
    const job = await queue.enqueue({
      definition: { name: 'flaky', command: `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${counter}; [ $n -ge 3 ]` },
      retry: { maxAttempts: 5, backoff: 'fixed', delayMs: 20, jitter: 0 },
    });
    const ended = await untilState(job.id, ['failed', 'succeeded', 'cancelled', 'interrupted']);
    assert.equal(ended.state, 'succeeded', JSON.stringify(ended.result));
    assert.equal(ended.attempts, 3);
    assert.equal(readFileSync(counter, 'utf8').trim(), '3');
    for (const attempt of [1, 2, 3]) {
      assert.equal(jobRecords(jobsDir, job.id, attempt).filter((record) => record.t === 'exited').length, 1, `attempt ${attempt} ran once`);
    }
  });

  it('stops at once on an exit code that must not be retried', async () => {
    const counter = join(dir, 'count');
    const job = await queue.enqueue({
      definition: { name: 'fatal', command: `echo x >> ${counter}; exit 42` },
      retry: { maxAttempts: 5, backoff: 'fixed', delayMs: 20, jitter: 0, doNotRetryExitCodes: [42] },
    });
    const ended = await untilState(job.id, ['failed', 'succeeded', 'cancelled', 'interrupted']);
    assert.equal(ended.state, 'failed');
    assert.equal(ended.attempts, 1);
    assert.equal(ended.result?.exitCode, 42);
    assert.equal(readFileSync(counter, 'utf8').trim().split('\n').length, 1);
  });

  it('a delayed job that came due while no host was alive starts on the next open', async () => {
    // The first host's clock stands still, so that however slow this machine is, the job cannot come
    // due before that host is gone; the next host runs on the real clock.
    await openManual();
    const ran = join(dir, 'ran.txt');
    const runAt = Date.now() + 300;
    const job = await queue.enqueue({ definition: { name: 'later', command: `date +%s%3N > ${ran}` }, runAt });
    assert.equal(job.state, 'delayed');
    await close();
    await waitUntil(() => Date.now() > runAt + 100, 5000, 'the job is due');
    assert.equal(existsSync(ran), false, 'nothing ran with no host');
    await open();
    const ended = await untilState(job.id, ['failed', 'succeeded', 'cancelled', 'interrupted']);
    assert.equal(ended.state, 'succeeded', JSON.stringify(ended.result));
    assert.equal(ended.attempts, 1);
    assert.ok((ended.startedAt ?? 0) >= runAt, 'it started after it came due');
    assert.ok(existsSync(ran));
  });

  it('a supervisor killed under a live queue: the job is interrupted with its stage and checkpoint, no retry is spent, and resume finishes it', async () => {
    const ran = join(dir, 'ran.txt');
    const sleepPid = join(dir, 'b.pid');
    const job = await queue.enqueue({
      definition: {
        name: 'resumable',
        stages: [
          { name: 'a', command: `echo a >> ${ran}; touch out-a`, outputs: ['out-a'] },
          {
            name: 'b',
            command: `if [ -z "$LIFELINE_RESUME" ]; then echo "::lifeline checkpoint b-half"; sleep 1000 & echo $! > ${sleepPid}; wait; fi; echo "b:$LIFELINE_RESUME" >> ${ran}`,
          },
        ],
      },
      retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 20, jitter: 0 },
    });
    await waitUntil(
      () =>
        existsSync(sleepPid) &&
        readFileSync(sleepPid, 'utf8').trim() !== '' &&
        jobRecords(jobsDir, job.id).some((record) => record.t === 'checkpoint'),
      5000,
      'stage b checkpointed',
    );
    const orphan = Number(readFileSync(sleepPid, 'utf8').trim());
    const started = jobRecords(jobsDir, job.id).find((record) => record.t === 'started');
    assert.ok(started?.t === 'started');
    process.kill(started.supervisor.pid, 'SIGKILL');

    const lost = await untilState(job.id, ['interrupted', 'failed', 'delayed', 'succeeded', 'cancelled']);
    assert.equal(lost.state, 'interrupted', JSON.stringify(lost.result));
    assert.equal(lost.attempts, 1, 'no attempt was spent');
    assert.equal(lost.currentStage, 1);
    assert.equal(lost.checkpoint, 'b-half');
    assert.deepEqual(lost.completedStages, ['a']);
    assert.match(lost.result?.error ?? '', /supervisor stopped without recording an exit/);
    await allGone([orphan]);

    await queue.command({ type: 'resume', jobId: job.id });
    const ended = await untilState(job.id, ['succeeded', 'failed', 'interrupted', 'cancelled']);
    assert.equal(ended.state, 'succeeded', JSON.stringify(ended.result));
    assert.deepEqual(readFileSync(ran, 'utf8').trim().split('\n'), ['a', 'b:b-half']);
  });
});
