import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobHistory } from '../../../src/core/history/jobHistory';
import { HistoryRecorder } from '../../../src/core/runtime/historyRecorder';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { Disposable } from '../../../src/core/emitter';
import type { Job, JobState } from '../../../src/core/queue/jobModel';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { openHistory } from '../history/historyFixtures';
import { jobRecords, killSupervisorsOf, supervisorScript, waitUntil, untilJobState } from './supervisorTestKit';

/**
 * A job that ends while no host is alive is finished at the time its supervisor
 * recorded, not when the next host noticed, and its duration runs from its process's recorded
 * start to that exit: in the queue and in the history.
 */
describe('supervisor: finish times come from the supervisor’s records', function () {
  this.timeout(15_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner | undefined;
  let queue: JobQueue | undefined;
  let history: JobHistory | undefined;
  let recording: Disposable | undefined;

  /** A host: the queue on the real supervisors, with every finished job recorded in the history. */
  const open = async (): Promise<JobQueue> => {
    runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 100, pollMs: 50, idleExitMs: 1000 });
    history ??= (await openHistory(join(dir, 'history'))).history;
    const recorder = new HistoryRecorder(history, async () => undefined);
    const opened = await JobQueue.open({
      log: new DurableQueueLog({ directory: join(dir, 'queue') }),
      runner,
      baseDir: dir,
      random: () => 0.5,
    });
    recording = opened.onDidChange((event) => {
      if (event.type === 'jobChanged') void recorder.jobChanged(event.job, event.previousState);
    });
    queue = opened;
    return opened;
  };
  const close = async (): Promise<void> => {
    recording?.dispose();
    await queue?.dispose();
    await runner?.dispose();
    queue = undefined;
    runner = undefined;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-times-'));
    jobsDir = join(dir, 'jobs');
  });
  afterEach(async () => {
    await close();
    await history?.close();
    history = undefined;
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  const untilState = (id: string, states: readonly JobState[]): Promise<Job> => untilJobState(() => queue, id, states);

  it('a job that exits while no host is alive: finishedAt is the exited record’s time and its duration runs from the started record, in the queue and the history', async () => {
    await open();
    const job = await queue!.enqueue({ definition: { name: 'alone', command: 'while [ ! -e go ]; do sleep 0.02; done' } });
    await waitUntil(() => jobRecords(jobsDir, job.id).some((record) => record.t === 'stageStarted'), 5000, 'the stage started');
    await close();
    writeFileSync(join(dir, 'go'), '');
    await waitUntil(() => jobRecords(jobsDir, job.id).some((record) => record.t === 'exited'), 5000, 'the exit was recorded with no host');
    const records = jobRecords(jobsDir, job.id);
    const started = records.find((record) => record.t === 'started');
    const exited = records.find((record) => record.t === 'exited');
    assert.ok(started?.t === 'started' && exited?.t === 'exited');
    // The next host comes well after the exit, as overnight it comes hours after.
    await waitUntil(() => Date.now() > exited.at + 1000, 5000, 'a second passed since the exit');

    await open();
    const ended = await untilState(job.id, ['succeeded', 'failed', 'interrupted', 'cancelled']);
    assert.equal(ended.state, 'succeeded', JSON.stringify(ended.result));
    assert.ok(Math.abs((ended.finishedAt ?? 0) - exited.at) < 100, `finished at ${ended.finishedAt}, exited at ${exited.at}`);
    assert.ok(Math.abs((ended.startedAt ?? 0) - started.at) < 100, `started at ${ended.startedAt}, its process started at ${started.at}`);
    const duration = exited.at - started.at;
    assert.ok(Math.abs((ended.actualDurationMs ?? -1) - duration) < 100, `duration ${ended.actualDurationMs}, recorded ${duration}`);

    await waitUntil(
      () => history!.page({ sort: 'finishedAt', direction: 'asc' }).entries.length === 1,
      5000,
      'the history recorded the job',
    );
    const [entry] = history!.page({ sort: 'finishedAt', direction: 'asc' }).entries;
    assert.ok(entry);
    assert.ok(Math.abs(entry.finishedAt - exited.at) < 100, `history: finished at ${entry.finishedAt}, exited at ${exited.at}`);
    assert.ok(Math.abs((entry.durationMs ?? -1) - duration) < 100, `history: duration ${entry.durationMs}, recorded ${duration}`);
  });
});
