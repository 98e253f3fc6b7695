import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from '../../../src/core/queue/jobModel';
import { isAlive } from '../drivenProcess';
import type { HostProcess } from './supervisorTestKit';
import { jobRecords, useHostFolder, waitUntil } from './supervisorTestKit';

/**
 * A stop survives the host that asked for it. The host dies during the kill grace;
 * the job still ends as asked (cancelled, or failed as timed out) and is never run again, whether
 * its supervisor finishes the stop or dies as well.
 */
describe('supervisor: a stop whose host dies during the kill grace', function () {
  this.timeout(30_000);
  const folder = useHostFolder('lifeline-stophost-');
  let dir: string;
  let jobsDir: string;
  beforeEach(() => ({ dir, jobsDir } = folder));
  const startHost = (label: string, killGraceMs: number): Promise<HostProcess> => folder.startHost(label, { killGraceMs });
  const path = (name: string): string => join(dir, name);
  const lines = (name: string): string[] =>
    existsSync(path(name)) ? readFileSync(path(name), 'utf8').trim().split('\n').filter(Boolean) : [];
  const treePids = ['child.pid', 'grandchild.pid', 'deep.pid'];
  const pids = (): number[] => treePids.map((name) => Number(readFileSync(path(name), 'utf8').trim()));
  /** Notes each run and each TERM; it and its tree ignore TERM, so only SIGKILL ends them. */
  const stubborn = (): string =>
    `echo run >> ${path('ran.txt')}; trap 'echo term >> ${path('term.mark')}' TERM; (trap '' TERM; sh -c 'sleep 1000 & echo $! > ${path('deep.pid')}; wait') & (trap '' TERM; exec sleep 1000) & echo $! > ${path('grandchild.pid')}; echo $$ > ${path('child.pid')}; while :; do sleep 0.05; done`;
  const treeStarted = (): boolean => treePids.every((name) => lines(name).length > 0);
  const ended = async (host: HostProcess, jobId: string): Promise<Job> => {
    let job: Job | undefined;
    await waitUntil(
      async () => (job = await host.job(jobId)) !== undefined && !['running', 'queued'].includes(job.state),
      15_000,
      'the job ended',
    );
    return job as Job;
  };

  it('cancel, then the host is SIGKILLed during the grace: the supervisor finishes the stop, and the next host finds the job cancelled, run once', async () => {
    const first = await startHost('H1', 1500);
    const reply = await first.exec({ type: 'enqueue', definition: { name: 'stubborn', command: stubborn() } });
    const jobId = (reply.result as { jobId: string }).jobId;
    await waitUntil(treeStarted, 10_000, 'the tree started');
    const tree = pids();
    assert.equal((await first.exec({ type: 'cancel', jobId })).ok, true);
    await waitUntil(() => lines('term.mark').length > 0, 5000, 'the job was sent SIGTERM');
    await first.kill();
    assert.ok(tree.every(isAlive), 'the grace is still running');

    const second = await startHost('H2', 1500);
    const job = await ended(second, jobId);
    assert.equal(job.state, 'cancelled', JSON.stringify(job.result));
    assert.equal(job.attempts, 1);
    await waitUntil(() => tree.every((pid) => !isAlive(pid)), 5000, 'the tree is gone');
    assert.deepEqual(lines('ran.txt'), ['run'], 'it never ran again');
    assert.deepEqual(
      readdirSync(jobsDir).filter((name) => name.endsWith('.journal')),
      [`${encodeURIComponent(jobId)}.1.journal`],
    );
    assert.equal(jobRecords(jobsDir, jobId).find((record) => record.t === 'exited')?.t, 'exited');
  });

  it('the next host adopts the job during its grace: it stays stopping, is never resumed, and ends cancelled although it then exits 0', async () => {
    const first = await startHost('H1', 60_000);
    // Ignores TERM; leaves with code 0 once the file `go` exists.
    const command = `echo run >> ${path('ran.txt')}; trap 'echo term >> ${path('term.mark')}' TERM; echo $$ > ${path('child.pid')}; while [ ! -e ${path('go')} ]; do sleep 0.05; done`;
    const reply = await first.exec({ type: 'enqueue', definition: { name: 'slow-to-stop', command } });
    const jobId = (reply.result as { jobId: string }).jobId;
    await waitUntil(() => lines('child.pid').length > 0, 10_000, 'the job started');
    assert.equal((await first.exec({ type: 'cancel', jobId })).ok, true);
    await waitUntil(() => lines('term.mark').length > 0, 5000, 'the job was sent SIGTERM');
    await first.kill();

    const second = await startHost('H2', 60_000);
    const adopted = await second.job(jobId);
    assert.equal(adopted?.state, 'running');
    assert.equal(adopted?.stopReason, 'cancel');
    writeFileSync(path('go'), '');
    const job = await ended(second, jobId);
    assert.equal(job.state, 'cancelled', JSON.stringify(job.result));
    assert.equal(job.attempts, 1);
    assert.deepEqual(lines('ran.txt'), ['run'], 'it never ran again');
  });

  it('a timeout, then host and supervisor are SIGKILLed during the grace: the next host stops the tree and finds the job failed as timed out, not interrupted', async () => {
    const first = await startHost('H1', 60_000);
    const reply = await first.exec({ type: 'enqueue', definition: { name: 'stubborn-slow', command: stubborn(), timeoutSeconds: 1 } });
    const jobId = (reply.result as { jobId: string }).jobId;
    await waitUntil(treeStarted, 10_000, 'the tree started');
    const tree = pids();
    await waitUntil(() => lines('term.mark').length > 0, 10_000, 'the timeout sent SIGTERM');
    await first.kill();
    const started = jobRecords(jobsDir, jobId).find((record) => record.t === 'started');
    assert.ok(started?.t === 'started');
    process.kill(started.supervisor.pid, 'SIGKILL');
    await waitUntil(() => !isAlive(started.supervisor.pid), 2000, 'the supervisor is gone');
    assert.ok(tree.every(isAlive), 'the tree outlived its supervisor');

    const second = await startHost('H2', 60_000);
    const job = await ended(second, jobId);
    assert.equal(job.state, 'failed', JSON.stringify(job.result));
    assert.equal(job.result?.timedOut, true);
    assert.equal(job.attempts, 1);
    await waitUntil(() => tree.every((pid) => !isAlive(pid)), 5000, 'the tree is gone');
    assert.deepEqual(lines('ran.txt'), ['run'], 'it never ran again');
  });
});
