import * as assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../../src/core/clock';
import { systemClock } from '../../../src/core/clock';
import { nullLogger } from '../../../src/core/logger';
import type { RuntimeBackups } from '../../../src/core/runtime/runtimeBackups';
import { RuntimeCleanup } from '../../../src/core/runtime/runtimeCleanup';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { jobIdOfFile } from '../../../src/shared/supervisor/node/jobFilePaths';
import { untilJobState, waitUntil } from '../supervisors/supervisorTestKit';
import { useRuntimeFolders } from './runtimeTestKit';

const DAY_MS = 24 * 60 * 60_000;

/** A clock `offset` ms ahead of the system's: jobs finished now look old to the cleanup. */
function shiftedClock(): Clock & { offset: number } {
  const clock = { offset: 0, now: () => Date.now() + clock.offset, setTimer: systemClock.setTimer };
  return clock;
}

function cleanupOf(runtime: WorkspaceRuntime, clock: Clock): RuntimeCleanup {
  return new RuntimeCleanup({
    storageDirectory: runtime.storageDirectory,
    queue: runtime.queue,
    backups: runtime.services.backups as RuntimeBackups,
    audit: runtime.services.audit,
    history: () => runtime.history.history,
    logger: nullLogger,
    options: () => runtime.options,
    clock,
  });
}

/** Writes `bytes` bytes at `path`, changed `ageMs` ago. */
function fileOf(path: string, bytes: number, ageMs: number): number {
  writeFileSync(path, Buffer.alloc(bytes, 0x61));
  const at = (Date.now() - ageMs) / 1000;
  utimesSync(path, at, at);
  return bytes;
}

/** The total size of a job's run files now. */
function jobFileBytes(jobsDir: string, jobId: string): number {
  return readdirSync(jobsDir)
    .filter((name) => jobIdOfFile(name) === jobId)
    .reduce((sum, name) => sum + lstatSync(join(jobsDir, name)).size, 0);
}

const options = { cleanupIntervalHours: 0, failedJobRetentionDays: 7, finishedJobRetentionDays: 30, quarantineRetentionDays: 30 };

describe('RuntimeCleanup: what it removes, on real files, to the byte', () => {
  const folders = useRuntimeFolders();

  it('removes orphaned job files, then old failed jobs’ files, then expired finished jobs (kept in the history), and counts every byte', async () => {
    const runtime = await folders.open({ options: { ...options, backupKeep: 10 } });
    const history = await runtime.history.whenOpen();
    assert.ok(history);
    const clock = shiftedClock();
    const cleanup = cleanupOf(runtime, clock);
    const jobsDir = runtime.jobsDirectory;
    const ok = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'ok', command: 'echo fine' } });
    const bad = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'bad', command: 'echo broken; exit 3' } });
    await untilJobState(() => runtime.queue, ok.jobId as string, ['succeeded']);
    await untilJobState(() => runtime.queue, bad.jobId as string, ['failed']);
    await waitUntil(() => history.page({ limit: 10 }).entries.length === 2, 5000, 'both runs are recorded');

    // Orphans: two files of a job no queue knows, quiet for an hour; one changed a moment ago; a file that is no job's.
    mkdirSync(jobsDir, { recursive: true });
    const orphanBytes =
      fileOf(join(jobsDir, 'ghost.1.log'), 1000, 60 * 60_000) + fileOf(join(jobsDir, 'ghost.1.journal'), 234, 60 * 60_000);
    const freshBytes = fileOf(join(jobsDir, 'fresh.1.log'), 77, 0);
    fileOf(join(jobsDir, 'notes.txt'), 5, 60 * DAY_MS);
    // Quarantine: two files past 30 days, and the newest, which always stays.
    const quarantine = join(runtime.storageDirectory, 'queue', 'quarantine');
    mkdirSync(quarantine, { recursive: true });
    const quarantineBytes = fileOf(join(quarantine, 'a'), 500, 40 * DAY_MS) + fileOf(join(quarantine, 'b'), 300, 35 * DAY_MS);
    fileOf(join(quarantine, 'c'), 100, 31 * DAY_MS);
    // Backups: three automatic ones, then a cap of one.
    const backups = runtime.services.backups as RuntimeBackups;
    const oldest = await backups.backupNow('scheduled');
    const older = await backups.backupNow('scheduled');
    await backups.backupNow('scheduled');
    runtime.updateOptions({ backupKeep: 1 });
    const backupBytes = oldest.fileSize + older.fileSize;

    const first = await cleanup.runNow();
    assert.deepEqual(first.orphanedJobs, { items: 1, files: 2, bytes: orphanBytes });
    assert.deepEqual(first.quarantine, { items: 2, files: 2, bytes: quarantineBytes });
    assert.deepEqual(first.backups, { items: 2, files: 2, bytes: backupBytes });
    assert.equal(first.failedJobLeftovers.items, 0, 'the failed job is a moment old');
    assert.equal(first.finishedJobs.items, 0);
    assert.equal(first.busyJobs, 1, 'the orphan changed a moment ago is left alone');
    assert.equal(first.bytesFreed, orphanBytes + quarantineBytes + backupBytes);
    assert.ok(existsSync(join(jobsDir, 'fresh.1.log')) && existsSync(join(jobsDir, 'notes.txt')) && existsSync(join(quarantine, 'c')));
    assert.equal((await backups.manager.list()).length, 1);

    // Ten days on: the failed job's files go (it stays in the queue), and the quiet orphan.
    const badBytes = jobFileBytes(jobsDir, bad.jobId as string);
    const okBytes = jobFileBytes(jobsDir, ok.jobId as string);
    assert.ok(badBytes > 0 && okBytes > 0);
    clock.offset = 10 * DAY_MS;
    const second = await cleanup.runNow();
    assert.deepEqual(second.failedJobLeftovers, { items: 1, files: second.failedJobLeftovers.files, bytes: badBytes });
    assert.deepEqual(second.orphanedJobs, { items: 1, files: 1, bytes: freshBytes });
    assert.equal(second.bytesFreed, badBytes + freshBytes);
    assert.equal(runtime.queue.getJob(bad.jobId as string)?.state, 'failed', 'a failed job stays in the queue');
    assert.equal(jobFileBytes(jobsDir, ok.jobId as string), okBytes, 'a succeeded job keeps its output until its own retention');

    // Thirty-one days on: both finished jobs leave the queue, with the succeeded one's files; the history keeps them.
    clock.offset = 31 * DAY_MS;
    const third = await cleanup.runNow();
    assert.deepEqual(third.finishedJobs, { items: 2, files: third.finishedJobs.files, bytes: okBytes });
    assert.equal(third.bytesFreed, okBytes);
    assert.equal(runtime.queue.jobs.length, 0);
    assert.deepEqual(
      readdirSync(jobsDir).filter((name) => jobIdOfFile(name) !== undefined),
      [],
      'no job file is left',
    );
    assert.ok(existsSync(join(jobsDir, 'notes.txt')), 'a file that is no job’s stays');
    const names = history.page({ limit: 10 }).entries.map((entry) => entry.name);
    assert.deepEqual(names.sort(), ['bad', 'ok'], 'both runs are still in the history');

    const audit = await runtime.services.audit?.recent(20);
    assert.ok(audit?.some((entry) => entry.action === 'clearFinished' && entry.origin?.label === 'cleanup' && entry.detail?.count === 2));
    assert.equal(audit?.filter((entry) => entry.action === 'cleanup.run').length, 3);
    await cleanup.close();
  });

  it('keeps finished jobs the history does not show, and removes those it does', async () => {
    const runtime = await folders.open({ options });
    const history = await runtime.history.whenOpen();
    assert.ok(history);
    const first = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'first', command: 'true' } });
    await untilJobState(() => runtime.queue, first.jobId as string, ['succeeded']);
    const second = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'second', command: 'true' } });
    await untilJobState(() => runtime.queue, second.jobId as string, ['succeeded']);
    await waitUntil(() => history.page({ limit: 10 }).entries.length === 2, 5000, 'both runs are recorded');
    // As if the history had missed the second run: newer than the oldest entry, so not archived either.
    history.active.rows('DELETE FROM entries WHERE name = ?', ['second']);
    const clock = shiftedClock();
    clock.offset = 31 * DAY_MS;
    const cleanup = cleanupOf(runtime, clock);
    const report = await cleanup.runNow();
    assert.equal(report.notInHistory, 1);
    assert.equal(report.finishedJobs.items, 1);
    assert.equal(runtime.queue.getJob(first.jobId as string), undefined, 'the recorded job left the queue');
    assert.equal(runtime.queue.getJob(second.jobId as string)?.state, 'succeeded', 'the unrecorded job stays');
    await cleanup.close();
  });
});

describe('RuntimeCleanup: never touches a running job', () => {
  const folders = useRuntimeFolders();

  it('leaves a running job’s files alone however old they look, while cleanups race it from start to finish', async () => {
    const runtime = await folders.open({ options: { ...options, failedJobRetentionDays: 1, finishedJobRetentionDays: 1 } });
    await runtime.history.whenOpen();
    const clock = shiftedClock();
    // Every file looks quiet for 60 days: only the job's state protects it.
    clock.offset = 60 * DAY_MS;
    const cleanup = cleanupOf(runtime, clock);
    const marker = join(folders.workspace, 'done');
    const { jobId } = await runtime.queue.execute({
      type: 'enqueue',
      definition: { name: 'long', command: `echo started; sleep 1.5; echo finished; touch ${marker}` },
    });
    let runs = 0;
    let sawRunning = false;
    while (!existsSync(marker) || runtime.queue.getJob(jobId as string)?.state === 'running') {
      const report = await cleanup.runNow();
      runs++;
      const job = runtime.queue.getJob(jobId as string);
      if (job?.state === 'running') {
        sawRunning = true;
        assert.equal(
          report.orphanedJobs.items + report.failedJobLeftovers.items + report.finishedJobs.items,
          0,
          `run ${runs} removed something`,
        );
      }
    }
    assert.ok(sawRunning && runs > 1, `cleanups raced the running job (${runs})`);
    const finished = await untilJobState(() => runtime.queue, jobId as string, ['succeeded', 'failed']);
    assert.equal(finished.state, 'succeeded');
    const log = runtime.outputLogPath(finished);
    await waitUntil(() => log !== undefined && existsSync(log), 2000, 'the output log is there');
    await cleanup.close();
  });
});
