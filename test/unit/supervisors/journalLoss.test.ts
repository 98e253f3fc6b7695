import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../../src/core/queue/jobModel';
import { retireEarlierRun } from '../../../src/core/supervisors/supervisorProtocol';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import { jobFilePaths, jobIdOfFile } from '../../../src/shared/supervisor/node/jobFilePaths';
import { isAlive } from '../drivenProcess';
import type { HostProcess } from './supervisorTestKit';
import { jobRecords, useHostFolder, waitUntil } from './supervisorTestKit';

/** The job's plain interruption when its owner went; a lost journal adds its own reason (#16). */
const interruption = 'the queue stopped while the job ran';

describe("supervisor: a job's journal deleted, emptied or cut while the queue holds the job (#16)", function () {
  this.timeout(30_000);
  const folder = useHostFolder('lifeline-journal-loss-');

  /**
   * A job that succeeded while no host was alive: the queue (of a killed host) holds it running
   * with its pid, and only its journal knows the outcome. Returns the job id and the journal path.
   */
  async function finishedWithoutHost(): Promise<{ jobId: string; journalPath: string }> {
    const first = await folder.startHost('H1');
    // The job ends only once the test opens its gate, after the host is dead: however slow the
    // machine, only the journal can know the outcome (a fixed sleep could end while the host lives).
    const gate = join(folder.dir, `gate-${Math.random().toString(36).slice(2)}`);
    const command = `while [ ! -e '${gate}' ]; do sleep 0.05; done; exit 0`;
    const reply = await first.exec({ type: 'enqueue', definition: { name: 'quick', command } });
    const jobId = (reply.result as { jobId: string }).jobId;
    // The queue has read the run's `started` record: the journal held it.
    await waitUntil(async () => (await first.job(jobId))?.pid !== undefined, 10_000, 'the queue saw the start');
    // A later command is acknowledged only after the commits before it: the pid is on disk too.
    assert.equal((await first.exec({ type: 'setAutoRun', autoRun: true })).ok, true);
    await first.kill();
    writeFileSync(gate, '');
    await waitUntil(() => jobRecords(folder.jobsDir, jobId).some((record) => record.t === 'exited'), 10_000, 'the exit was recorded');
    // Damage found when nothing runs: its supervisor, idle and without a host, has gone.
    const started = jobRecords(folder.jobsDir, jobId).find((record) => record.t === 'started');
    assert.ok(started?.t === 'started');
    await waitUntil(() => !isAlive(started.supervisor.pid), 10_000, 'the supervisor is gone');
    return { jobId, journalPath: jobFilePaths(folder.jobsDir, jobId, 1).journalPath };
  }

  async function settled(host: HostProcess, jobId: string): Promise<Job> {
    let job: Job | undefined;
    await waitUntil(async () => (job = await host.job(jobId)) !== undefined && job.state !== 'running', 10_000, 'the job is settled');
    return job as Job;
  }

  it('control: an intact journal gives the recorded outcome', async () => {
    const { jobId } = await finishedWithoutHost();
    const job = await settled(await folder.startHost('H2'), jobId);
    assert.equal(job.state, 'succeeded');
  });

  it('a deleted journal settles the job interrupted with "journal lost", never as success', async () => {
    const { jobId, journalPath } = await finishedWithoutHost();
    rmSync(journalPath);
    const job = await settled(await folder.startHost('H2'), jobId);
    assert.equal(job.state, 'interrupted');
    assert.equal(job.result?.error, `${interruption}; its journal was lost (the file is missing): its outcome is unknown`);
  });

  it('an emptied journal settles the job with "journal lost"', async () => {
    const { jobId, journalPath } = await finishedWithoutHost();
    truncateSync(journalPath, 0);
    const job = await settled(await folder.startHost('H2'), jobId);
    assert.equal(job.state, 'interrupted');
    assert.equal(job.result?.error, `${interruption}; its journal was lost (the file is empty): its outcome is unknown`);
  });

  it('a journal cut inside its exit record is a loss (its ack mark knew the exit was written), never a plain interruption', async () => {
    const { jobId, journalPath } = await finishedWithoutHost();
    const bytes = readFileSync(journalPath);
    const whole = scanJournal(bytes);
    // Heartbeats make the count depend on how long the job ran: the last record is the exit.
    const written = 'records' in whole ? whole.records.length : 0;
    const cut = bytes.subarray(0, bytes.length - 3);
    writeFileSync(journalPath, cut);
    const scan = scanJournal(cut);
    assert.ok(typeof scan.header === 'object');
    const unread = cut.length - scan.validLength;
    assert.ok(unread > 0);
    const job = await settled(await folder.startHost('H2'), jobId);
    assert.equal(job.state, 'interrupted');
    assert.equal(
      job.result?.error,
      // The ack mark beside it says the exit record was acknowledged: a cut, not a torn write.
      `${interruption}; its journal was cut or altered before the end its supervisor acknowledged (record ${written}): ${written - 1} records were read, the rest are lost`,
    );
  });

  it('a journal cut back to its header, before the start the queue had read, says what was lost', async () => {
    const { jobId, journalPath } = await finishedWithoutHost();
    const scan = scanJournal(readFileSync(journalPath));
    assert.ok(typeof scan.header === 'object');
    const written = 'records' in scan ? scan.records.length : 0;
    truncateSync(journalPath, scan.header.byteLength);
    const job = await settled(await folder.startHost('H2'), jobId);
    assert.equal(job.state, 'interrupted');
    assert.equal(
      job.result?.error,
      `${interruption}; its journal was cut or altered before the end its supervisor acknowledged (record ${written}): 0 records were read, the rest are lost`,
    );
  });

  it('a run that meets the journal of an earlier run with its number moves it aside, never deletes it', () => {
    const { journalPath, logPath } = jobFilePaths(folder.dir, 'job-1', 1);
    writeFileSync(journalPath, 'an outcome the queue never read');
    assert.equal(retireEarlierRun(journalPath, logPath), undefined);
    assert.equal(existsSync(journalPath), false);
    const kept = journalPath.replace(/\.journal$/, '.previous.journal');
    assert.equal(readFileSync(kept, 'utf8'), 'an outcome the queue never read');
    // Still a file of the job: it goes when the job leaves the queue.
    assert.equal(jobIdOfFile('job-1.1.previous.journal'), 'job-1');
  });
});
