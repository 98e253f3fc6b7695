import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/core/clock';
import { ManualClock, systemClock } from '../../../src/core/clock';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { Job, JobState } from '../../../src/core/queue/jobModel';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import type { JobRunner } from '../../../src/core/queue/jobRunner';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { isAlive } from '../drivenProcess';
import { jobRecords, killSupervisorsOf, supervisorScript, waitUntil, untilJobState } from './supervisorTestKit';

/**
 * Cancel and timeouts stop a job the way service managers do: SIGTERM to its process
 * group, SIGKILL once its kill grace has passed, both sent by its supervisor. Real processes,
 * real signals.
 */
describe('supervisor: a stop is SIGTERM, then SIGKILL after the kill grace', function () {
  this.timeout(20_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner;
  let queue: JobQueue;
  const ENDED: readonly JobState[] = ['failed', 'succeeded', 'cancelled', 'interrupted', 'delayed'];

  /** `killGraceMs`: the runner's default (the setting); jobs and stages may say otherwise. */
  const open = async (
    options: { clock?: Clock; killGraceMs?: number; wrap?: (runner: SupervisorRunner) => JobRunner } = {},
  ): Promise<JobQueue> => {
    runner = new SupervisorRunner({
      jobsDir,
      supervisorScript,
      heartbeatMs: 200,
      pollMs: 50,
      idleExitMs: 1000,
      killGraceMs: options.killGraceMs ?? 30_000,
    });
    queue = await JobQueue.open({
      log: new DurableQueueLog({ directory: join(dir, 'queue') }),
      runner: options.wrap?.(runner) ?? runner,
      baseDir: dir,
      clock: options.clock ?? systemClock,
      random: () => 0.5,
    });
    return queue;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-grace-'));
    jobsDir = join(dir, 'jobs');
  });
  afterEach(async () => {
    await queue.dispose();
    await runner.dispose();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  const untilState = (id: string, states: readonly JobState[]): Promise<Job> => untilJobState(() => queue, id, states, 10_000);
  const path = (name: string): string => join(dir, name);
  const written =
    (...names: string[]) =>
    (): boolean =>
      names.every((name) => existsSync(path(name)) && readFileSync(path(name), 'utf8').trim() !== '');
  const pidsIn = (names: readonly string[]): number[] => names.map((name) => Number(readFileSync(path(name), 'utf8').trim()));
  const allGone = (pids: readonly number[]): Promise<void> =>
    waitUntil(() => pids.every((pid) => !isAlive(pid)), 3000, `processes ${pids.join(', ')} are gone`);
  const treePids = (prefix: string): string[] => [`${prefix}-child.pid`, `${prefix}-grandchild.pid`, `${prefix}-deep.pid`];
  const logOf = (id: string): string => readFileSync(jobFilePaths(jobsDir, id, 1).logPath, 'utf8');

  /** Cleans up on TERM (its mark), with a child and a grandchild that die of the same signal. */
  const trapsTerm = (prefix: string): string =>
    `trap 'echo cleaned > ${prefix}-cleanup.mark; exit 3' TERM; sh -c 'sleep 1000 & echo $! > ${prefix}-deep.pid; wait' & sleep 1000 & echo $! > ${prefix}-grandchild.pid; echo $$ > ${prefix}-child.pid; wait`;
  /** Notes TERM and runs on; its child and grandchild ignore TERM altogether. Only SIGKILL ends it. */
  const ignoresTerm = (prefix: string): string =>
    `trap 'echo term >> ${prefix}-term.mark' TERM; (trap '' TERM; sh -c 'sleep 1000 & echo $! > ${prefix}-deep.pid; wait') & (trap '' TERM; exec sleep 1000) & echo $! > ${prefix}-grandchild.pid; echo $$ > ${prefix}-child.pid; while :; do sleep 0.05; done`;

  it('cancel: a job that traps TERM runs its clean-up, its children and grandchildren are gone, and it ends cancelled', async () => {
    await open();
    const job = await queue.enqueue({ definition: { name: 'tidy', command: trapsTerm('c') } });
    await waitUntil(written(...treePids('c')), 5000, 'the tree started');
    const pids = pidsIn(treePids('c'));
    await queue.command({ type: 'cancel', jobId: job.id });
    const ended = await untilState(job.id, ENDED);
    assert.equal(ended.state, 'cancelled', JSON.stringify(ended.result));
    assert.equal(readFileSync(path('c-cleanup.mark'), 'utf8').trim(), 'cleaned');
    assert.equal(ended.result?.exitCode, 3, 'it exited from its handler');
    await allGone(pids);
  });

  it('timeout: a job that traps TERM runs its clean-up, its tree is gone, and it fails as timed out', async () => {
    const clock = new ManualClock(Date.now());
    await open({ clock });
    const job = await queue.enqueue({ definition: { name: 'tidy-slow', command: trapsTerm('t'), timeoutSeconds: 30 } });
    await waitUntil(() => written(...treePids('t'))() && queue.getJob(job.id)?.pid !== undefined, 5000, 'the tree started');
    const pids = pidsIn(treePids('t'));
    clock.advance(30_000);
    const ended = await untilState(job.id, ENDED);
    assert.equal(ended.state, 'failed', JSON.stringify(ended.result));
    assert.equal(ended.result?.timedOut, true);
    assert.equal(readFileSync(path('t-cleanup.mark'), 'utf8').trim(), 'cleaned');
    await allGone(pids);
  });

  it('cancel: a job that ignores TERM is killed with its whole tree once its own kill grace has passed', async () => {
    // The runner's default is 30 s: only the job's killGraceSeconds ends it within the test.
    await open();
    const job = await queue.enqueue({ definition: { name: 'stubborn', command: ignoresTerm('i'), killGraceSeconds: 1 } });
    await waitUntil(written(...treePids('i')), 5000, 'the tree started');
    const pids = pidsIn(treePids('i'));
    const cancelledAt = Date.now();
    await queue.command({ type: 'cancel', jobId: job.id });
    await waitUntil(written('i-term.mark'), 5000, 'the job was sent SIGTERM');
    assert.ok(pids.every(isAlive), 'SIGTERM alone stopped nothing');
    const ended = await untilState(job.id, ENDED);
    assert.equal(ended.state, 'cancelled', JSON.stringify(ended.result));
    assert.equal(ended.result?.signal, 'SIGKILL');
    const exited = jobRecords(jobsDir, job.id).find((record) => record.t === 'exited');
    assert.ok(
      exited && exited.at - cancelledAt >= 1000,
      `it was killed ${exited && exited.at - cancelledAt} ms after the cancel, within its 1 s grace`,
    );
    assert.match(logOf(job.id), /SIGTERM sent; SIGKILL in 1 s/);
    assert.match(logOf(job.id), /outlived the 1 s grace; SIGKILL sent/);
    await allGone(pids);
  });

  it('stage timeout: a stage that ignores TERM is killed with its tree after the stage’s kill grace; later stages never run', async () => {
    const clock = new ManualClock(Date.now());
    await open({ clock });
    const job = await queue.enqueue({
      definition: {
        name: 'stubborn-stage',
        stages: [
          { name: 'a', command: ignoresTerm('s'), timeoutSeconds: 30, killGraceSeconds: 0.5 },
          { name: 'b', command: 'touch never.txt' },
        ],
      },
    });
    await waitUntil(() => written(...treePids('s'))() && queue.getJob(job.id)?.stageDeadlineAt !== undefined, 5000, 'stage a started');
    const pids = pidsIn(treePids('s'));
    clock.advance(30_000);
    await waitUntil(written('s-term.mark'), 5000, 'the stage was sent SIGTERM');
    const ended = await untilState(job.id, ENDED);
    assert.equal(ended.state, 'failed', JSON.stringify(ended.result));
    assert.equal(ended.result?.timedOut, true);
    assert.equal(ended.result?.signal, 'SIGKILL');
    assert.match(logOf(job.id), /outlived the 0\.5 s grace; SIGKILL sent/);
    assert.equal(existsSync(path('never.txt')), false);
    await allGone(pids);
  });

  for (const how of ['cancel', 'timeout'] as const) {
    it(`a ${how}'s reason is in the queue's journal file before the runner is told to kill`, async () => {
      const reason = how === 'cancel' ? 'cancel' : 'jobTimeout';
      const onDiskAtKill: boolean[] = [];
      const journalHasReason = (): boolean =>
        readdirSync(path('queue'))
          .filter((name) => name.endsWith('.journal'))
          .some((name) => readFileSync(join(path('queue'), name)).includes(`"stopReason":"${reason}"`));
      const clock = new ManualClock(Date.now());
      await open({
        clock,
        killGraceMs: 0,
        wrap: (inner) =>
          new Proxy(inner, {
            get: (target, property, receiver) => {
              if (property !== 'kill') return Reflect.get(target, property, receiver) as unknown;
              return (jobId: string) => {
                onDiskAtKill.push(journalHasReason());
                target.kill(jobId);
              };
            },
          }),
      });
      const job = await queue.enqueue({ definition: { name: 'stop-me', command: 'sleep 1000', timeoutSeconds: 30 } });
      await waitUntil(() => jobRecords(jobsDir, job.id).some((record) => record.t === 'stageStarted'), 5000, 'the stage started');
      assert.equal(journalHasReason(), false);
      if (how === 'cancel') await queue.command({ type: 'cancel', jobId: job.id });
      else clock.advance(30_000);
      const ended = await untilState(job.id, ENDED);
      assert.equal(ended.state, how === 'cancel' ? 'cancelled' : 'failed');
      assert.deepEqual(onDiskAtKill, [true]);
    });
  }
});
