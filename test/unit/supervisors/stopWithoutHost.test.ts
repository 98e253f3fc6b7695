import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableQueueLog } from '../../../src/core/queue/durableQueueLog';
import type { Job, JobState } from '../../../src/core/queue/jobModel';
import { JobQueue } from '../../../src/core/queue/jobQueue';
import { newLease, refreshLease, tryCreateLease } from '../../../src/core/session/lease';
import type { Lease } from '../../../src/shared/supervisor/node/leaseFile';
import { LEASE_FILE } from '../../../src/shared/supervisor/node/leaseFile';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { isAlive } from '../drivenProcess';
import { jobRecords, killSupervisorsOf, supervisorScript, waitUntil, untilJobState } from './supervisorTestKit';

/**
 * `lifeline.jobs.whenVSCodeCloses`: with no host left, a job either finishes on its own or, after a
 * grace period in which no host held the lease, is stopped by its supervisor and found interrupted
 * (resumable) by the next host. The test process plays the host that holds the lease.
 */
describe('supervisor: when VS Code closes for good', function () {
  this.timeout(15_000);
  let dir: string;
  let jobsDir: string;
  let runner: SupervisorRunner | undefined;
  let queue: JobQueue | undefined;
  let lease: Lease | undefined;
  let beating: NodeJS.Timeout | undefined;
  /** The refresh in flight: a removal must wait for it, or its write brings the lease back. */
  let refreshing: Promise<unknown> = Promise.resolve();

  const open = async (stopWithoutHostAfterMs?: number): Promise<JobQueue> => {
    runner = new SupervisorRunner({
      jobsDir,
      supervisorScript,
      heartbeatMs: 100,
      pollMs: 50,
      idleExitMs: 1000,
      stopWithoutHostAfterMs,
      leaseStaleAfterMs: 1000,
    });
    queue = await JobQueue.open({ log: new DurableQueueLog({ directory: join(dir, 'queue') }), runner, baseDir: dir, random: () => 0.5 });
    return queue;
  };
  /** The host goes: the queue closes and the runner detaches; supervisors keep their jobs. */
  const close = async (): Promise<void> => {
    await queue?.dispose();
    await runner?.dispose();
    queue = undefined;
    runner = undefined;
  };
  /** This process takes the lease and keeps its heartbeat moving, as a live holder does. */
  const holdLease = async (): Promise<void> => {
    lease = newLease((id) => join(dir, `${id}.sock`));
    assert.ok(await tryCreateLease(dir, lease));
    const held = lease;
    beating = setInterval(
      () => (refreshing = refreshing.then(() => refreshLease(dir, { ...held, heartbeatAt: Date.now() })).catch(() => undefined)),
      100,
    );
  };
  const stopBeating = async (): Promise<void> => {
    clearInterval(beating);
    beating = undefined;
    await refreshing;
  };
  const dropLease = async (): Promise<void> => {
    await stopBeating();
    rmSync(join(dir, LEASE_FILE), { force: true });
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-nohost-'));
    jobsDir = join(dir, 'jobs');
  });
  afterEach(async () => {
    await dropLease();
    await close();
    killSupervisorsOf(jobsDir);
    rmSync(dir, { recursive: true, force: true });
  });

  const untilState = (id: string, states: readonly JobState[]): Promise<Job> => untilJobState(() => queue, id, states);
  const exitOf = (id: string) => jobRecords(jobsDir, id).find((record) => record.t === 'exited');
  /** Lets a job waiting for the `go` file end, and returns its exit record, which says it succeeded. */
  const letFinish = async (id: string) => {
    writeFileSync(join(dir, 'go'), '');
    await waitUntil(() => exitOf(id) !== undefined, 5000, 'the job exited');
    const exit = exitOf(id);
    assert.ok(exit?.t === 'exited');
    assert.equal(exit.exitCode, 0);
    return exit;
  };
  const logOf = (id: string): string => {
    const path = jobFilePaths(jobsDir, id, 1).logPath;
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  };
  /** A stage that runs until the file `go` exists. */
  const untilGo = `while [ ! -e go ]; do sleep 0.02; done; echo done`;
  const stageStarted = (id: string) => (): boolean => jobRecords(jobsDir, id).some((record) => record.t === 'stageStarted');

  it('with the setting off, a job finishes on its own with no host and no lease', async () => {
    await holdLease();
    await open();
    const job = await queue!.enqueue({ definition: { name: 'finish', command: untilGo } });
    await waitUntil(stageStarted(job.id), 5000, 'the stage started');
    await close();
    await dropLease();
    // Many heartbeats with no lease at all, then the job is let go.
    await waitUntil(
      () => jobRecords(jobsDir, job.id).filter((record) => record.t === 'heartbeat').length >= 20,
      8000,
      'twenty heartbeats with no host',
    );
    assert.equal(exitOf(job.id), undefined, 'still running');
    const exit = await letFinish(job.id);
    assert.equal(exit.stoppedWithoutHost, undefined);
    assert.doesNotMatch(logOf(job.id), /no VS Code window/);
    await holdLease();
    await open();
    assert.equal((await untilState(job.id, ['succeeded', 'failed', 'interrupted', 'cancelled'])).state, 'succeeded');
  });

  for (const how of ['removed', 'stale (its holder is dead)'] as const) {
    it(`with a grace period and the lease ${how}: the job's tree is stopped, and the next host finds it interrupted, not failed`, async () => {
      await holdLease();
      await open(300);
      const job = await queue!.enqueue({
        definition: { name: 'stops', command: `sleep 1000 & echo $! > grandchild.pid; echo $$ > child.pid; wait` },
        retry: { maxAttempts: 3, backoff: 'fixed', delayMs: 20, jitter: 0 },
      });
      const pidFiles = ['child.pid', 'grandchild.pid'].map((name) => join(dir, name));
      await waitUntil(
        () => pidFiles.every((path) => existsSync(path) && readFileSync(path, 'utf8').trim() !== ''),
        5000,
        'the tree started',
      );
      const pids = pidFiles.map((path) => Number(readFileSync(path, 'utf8').trim()));
      await close();
      if (how === 'removed') await dropLease();
      else {
        // The holder dies without removing its lease: its pid is dead on this host, so it is stale at once.
        await stopBeating();
        const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
        writeFileSync(join(dir, LEASE_FILE), JSON.stringify({ ...lease, pid: Number(dead.stdout) }));
      }
      await waitUntil(() => exitOf(job.id) !== undefined, 8000, 'the supervisor stopped the job');
      const exit = exitOf(job.id);
      assert.ok(exit?.t === 'exited');
      assert.deepEqual(exit.stoppedWithoutHost, { afterMs: 300 });
      await waitUntil(() => pids.every((pid) => !isAlive(pid)), 3000, 'the tree is gone');
      const log = logOf(job.id);
      assert.match(log, /no VS Code window holds the queue; the job stops in 0\.3 s/);
      assert.match(log, /stopped because no VS Code window held the queue for 0\.3 s/);

      rmSync(join(dir, LEASE_FILE), { force: true });
      await holdLease();
      await open(300);
      const found = await untilState(job.id, ['interrupted', 'failed', 'delayed', 'succeeded', 'cancelled']);
      assert.equal(found.state, 'interrupted', JSON.stringify(found.result));
      assert.equal(found.attempts, 1, 'no attempt was spent');
      assert.match(found.result?.error ?? '', /stopped because no VS Code window held the queue for 0\.3 s/);
    });
  }

  it('a holder that comes back within the grace period cancels the countdown, and the job goes on', async () => {
    const graceMs = 2000;
    await holdLease();
    await open(graceMs);
    const job = await queue!.enqueue({ definition: { name: 'stays', command: untilGo } });
    await waitUntil(stageStarted(job.id), 5000, 'the stage started');
    await close();
    await dropLease();
    await waitUntil(() => /no VS Code window holds the queue/.test(logOf(job.id)), 5000, 'the countdown started');
    await holdLease();
    const back = Date.now();
    await waitUntil(() => /holds the queue again/.test(logOf(job.id)), 5000, 'the countdown was cancelled');
    // Past the moment the countdown would have run out, by the supervisor's own heartbeats.
    await waitUntil(
      () => jobRecords(jobsDir, job.id).some((record) => record.t === 'heartbeat' && record.at > back + graceMs + 500),
      8000,
      'heartbeats past the grace period',
    );
    assert.equal(exitOf(job.id), undefined, 'still running');
    await letFinish(job.id);
    assert.doesNotMatch(logOf(job.id), /stopped because/);
  });
});
