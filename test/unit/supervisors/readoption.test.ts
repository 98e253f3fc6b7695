import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../drivenProcess';
import type { HostProcess } from './supervisorTestKit';
import { jobRecords, useHostFolder, waitUntil } from './supervisorTestKit';

const lines = (path: string): string[] => {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

describe('supervisor: re-adoption after the host-side process is SIGKILLed', function () {
  this.timeout(30_000);
  const folder = useHostFolder('lifeline-sup-');
  let dir: string;
  let jobsDir: string;
  beforeEach(() => ({ dir, jobsDir } = folder));
  const startHost = (label: string): Promise<HostProcess> => folder.startHost(label);

  it('a new host re-adopts the running supervisor mid-pipeline; the pipeline finishes and each stage ran exactly once', async () => {
    const first = await startHost('H1');
    const ran = join(dir, 'ran.txt');
    const stage = (name: string) => ({ name, command: `echo ${name} >> ${ran}; sleep 0.6; echo done-${name} >> ${ran}` });
    const reply = await first.exec({ type: 'enqueue', definition: { name: 'pipe', stages: [stage('a'), stage('b'), stage('c')] } });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    const jobId = (reply.result as { jobId: string }).jobId;
    await waitUntil(() => lines(ran).includes('b'), 10_000, 'stage b started');
    await first.kill();
    const supervisor = jobRecords(jobsDir, jobId).find((record) => record.t === 'started');
    assert.ok(supervisor?.t === 'started' && isAlive(supervisor.supervisor.pid), 'the supervisor outlived its host');

    const second = await startHost('H2');
    let job = await second.job(jobId);
    await waitUntil(async () => (job = await second.job(jobId))?.state === 'succeeded', 10_000, 'the pipeline succeeded');
    assert.deepEqual(lines(ran), ['a', 'done-a', 'b', 'done-b', 'c', 'done-c']);
    assert.deepEqual(job?.completedStages, ['a', 'b', 'c']);
    assert.equal(job?.attempts, 1);
    assert.equal(job?.result?.exitCode, 0);
  });

  it('a job that ended while no host was alive shows its real exit code after re-adoption', async () => {
    const first = await startHost('H1');
    const mark = join(dir, 'started.txt');
    const reply = await first.exec({ type: 'enqueue', definition: { name: 'exit7', command: `echo x > ${mark}; sleep 0.3; exit 7` } });
    const jobId = (reply.result as { jobId: string }).jobId;
    await waitUntil(() => lines(mark).length > 0, 10_000, 'the job started');
    await first.kill();
    await waitUntil(() => jobRecords(jobsDir, jobId).some((record) => record.t === 'exited'), 10_000, 'the exit was recorded with no host');

    const second = await startHost('H2');
    let job = await second.job(jobId);
    await waitUntil(async () => (job = await second.job(jobId))?.state === 'failed', 10_000, 'the job is failed');
    assert.equal(job?.result?.exitCode, 7);
    assert.equal(job?.attempts, 1);
  });

  it('a supervisor killed with its host: the job is interrupted, its orphaned group stopped, and resume runs only the interrupted stage with its checkpoint', async () => {
    const first = await startHost('H1');
    const ran = join(dir, 'ran.txt');
    const sleepPid = join(dir, 'sleep.pid');
    const simple = (name: string) => ({
      name,
      command: `echo $LIFELINE_STAGE:\${LIFELINE_RESUME:-none} >> ${ran}; touch out-${name}`,
      outputs: [`out-${name}`],
    });
    const interrupted = {
      name: 'c',
      command: `echo c:\${LIFELINE_RESUME:-none} >> ${ran}; if [ -z "$LIFELINE_RESUME" ]; then echo "::lifeline checkpoint c-half"; sleep 30 & echo $! > ${sleepPid}; wait; fi; touch out-c`,
      outputs: ['out-c'],
    };
    const reply = await first.exec({
      type: 'enqueue',
      definition: { name: 'resumable', cwd: dir, stages: [simple('a'), simple('b'), interrupted] },
    });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    const jobId = (reply.result as { jobId: string }).jobId;
    // Only the job's journal has to know the checkpoint: the new host recovers it from there.
    await waitUntil(
      () => jobRecords(jobsDir, jobId).some((record) => record.t === 'checkpoint') && lines(sleepPid).length > 0,
      10_000,
      'stage c checkpointed',
    );
    const orphan = Number(lines(sleepPid)[0]);
    await first.kill();
    const started = jobRecords(jobsDir, jobId).find((record) => record.t === 'started');
    assert.ok(started?.t === 'started');
    process.kill(started.supervisor.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(started.supervisor.pid), 2000, 'the supervisor is gone');
    assert.equal(isAlive(orphan), true, 'the stage outlived its supervisor');

    const second = await startHost('H2');
    await waitUntil(async () => (await second.job(jobId))?.state === 'interrupted', 10_000, 'the job is interrupted');
    await waitUntil(() => !isAlive(orphan), 2000, 'the orphaned process group is stopped');
    assert.equal((await second.exec({ type: 'resume', jobId })).ok, true);
    let job = await second.job(jobId);
    await waitUntil(async () => (job = await second.job(jobId))?.state === 'succeeded', 10_000, 'the resumed job succeeded').catch(
      (error: unknown) => {
        throw new Error(
          `${String(error)}; job ${JSON.stringify({ state: job?.state, result: job?.result, currentStage: job?.currentStage })}; ran ${lines(ran).join(',')}; host: ${second.stderr}`,
        );
      },
    );
    assert.deepEqual(lines(ran), ['a:none', 'b:none', 'c:none', 'c:c-half']);
    assert.deepEqual(job?.completedStages, ['a', 'b', 'c']);
  });
});
