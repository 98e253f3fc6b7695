import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { HistoryEntry } from '../../../src/core/history/historyEntry';
import type { Job } from '../../../src/core/queue/jobModel';
import type { RuntimeReport } from '../../../src/core/runtime/runtimeReports';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { writeBackupFile } from '../../../src/core/storage/backupFileIo';
import { InvalidBackupError } from '../../../src/core/storage/backupFormat';
import { StorageError } from '../../../src/core/storage/errors';
import { until, useRuntimeFolders } from './runtimeTestKit';

/** A job that runs until the file `name` appears in its working folder, then exits with `code`. */
function waitsFor(name: string, code: number): string {
  return `node -e "const fs=require('fs');setInterval(()=>{if(fs.existsSync('${name}'))process.exit(${code})},20)"`;
}

function entries(runtime: WorkspaceRuntime): readonly HistoryEntry[] {
  return runtime.history.history?.page({ sort: 'finishedAt', direction: 'desc', limit: 50 }).entries ?? [];
}

function jobOf(runtime: WorkspaceRuntime, id: unknown): Job | undefined {
  return runtime.queue.getJob(id as string);
}

/**
 * Every file under the queue, history and backups folders with a hash of its bytes: "changes
 * nothing" is this map unchanged. Manifests aside: a store advances its manifest's acknowledged
 * end on its own timer after commits (manifestKeeper.ts), whatever a restore does.
 */
function filesOf(storage: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!/\.manifest$|\.tmp$/.test(name)) {
        found[relative(storage, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
      }
    }
  };
  for (const folder of ['queue', 'history', 'backups']) walk(join(storage, folder));
  return found;
}

function queueView(runtime: WorkspaceRuntime): string[] {
  return runtime.queue.jobs.map((job) => `${job.name}:${job.state}`);
}

describe('WorkspaceRuntime: restore in place', function () {
  this.timeout(30_000);
  const folders = useRuntimeFolders();

  it('restores a backup while a job keeps running across it: the job ends with its own exit code and is recorded once', async () => {
    const runtime = await folders.open({ options: { concurrency: 1, recoveryPolicy: 'off' } });
    await runtime.history.whenOpen();
    const first = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'before', command: 'echo before' } });
    await until(runtime.history.onDidChange, () => entries(runtime).length === 1, 'the first job is in the history');
    const backup = await runtime.createBackup();

    const long = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'across', command: waitsFor('go', 7) } });
    const after = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'after', command: 'echo after' } });
    await until(
      runtime.queue.onDidChange,
      () => jobOf(runtime, long.jobId)?.state === 'running' && jobOf(runtime, long.jobId)?.pid !== undefined,
      'the long job runs',
    );
    const pid = jobOf(runtime, long.jobId)?.pid;
    assert.deepEqual(queueView(runtime), ['before:succeeded', 'across:running', 'after:queued']);

    let resets = 0;
    const subscription = runtime.queue.onDidChange((event) => {
      if (event.type === 'reset') resets++;
    });
    const result = await runtime.restoreBackup(backup.id);
    subscription.dispose();

    assert.equal(resets, 1, 'listeners (views, panels) are told to show the whole queue again');
    assert.deepEqual(result.keptRunning, [long.jobId]);
    assert.equal(result.safetyBackup.reason, 'beforeRestore');
    assert.deepEqual(queueView(runtime), ['before:succeeded', 'across:running'], "the backup's queue, plus the job running now");
    assert.equal(jobOf(runtime, after.jobId), undefined, 'a job queued after the backup is gone, by id too');
    assert.equal(jobOf(runtime, long.jobId)?.pid, pid, 'the same process, not a new run');
    assert.equal(runtime.queue.role, 'holder');
    assert.ok(runtime.history.history, 'the history is open again');

    writeFileSync(join(folders.workspace, 'go'), '');
    await until(runtime.history.onDidChange, () => entries(runtime).some((entry) => entry.name === 'across'), 'the long job is recorded');
    const job = jobOf(runtime, long.jobId);
    assert.equal(job?.state, 'failed');
    assert.equal(job?.result?.exitCode, 7, 'it ends with its own exit code');
    assert.equal(job?.attempts, 1, 'it ran once');
    assert.deepEqual(
      entries(runtime)
        .map((entry) => entry.name)
        .sort(),
      ['across', 'before'],
      'each job once in the history',
    );
    assert.equal(jobOf(runtime, first.jobId)?.state, 'succeeded');

    // A new job runs as usual after the restore, and the state survives a reopen.
    const saving: string[] = [];
    const savingSubscription = runtime.onDidChangeStorageHealth((health) => saving.push(health.state));
    const next = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'later', command: 'echo later' } });
    await until(runtime.queue.onDidChange, () => jobOf(runtime, next.jobId)?.state === 'succeeded', 'a later job runs');
    // Other commits (the run's records) may still be in flight: saved once they are on disk.
    await until(runtime.onDidChangeStorageHealth, () => runtime.storageHealth.state === 'saved', 'the queue to be saved');
    savingSubscription.dispose();
    // What follows the holder's queue follows the reopened one (it was left on the closed queue).
    assert.ok(saving.includes('saving'), `the saving status follows the reopened queue: ${saving.join(' ')}`);
    const audited = (await runtime.services.audit?.recent(20)) ?? [];
    assert.ok(
      audited.some((entry) => entry.jobId === next.jobId),
      `the audit log has the command sent after the restore: ${JSON.stringify(audited.map((entry) => entry.action))}`,
    );
    await runtime.close();
    const again = await folders.open();
    assert.deepEqual(queueView(again), ['before:succeeded', 'across:failed', 'later:succeeded']);
  });

  it('keeps what happened here to a job the backup holds as running, and leaves a gone one interrupted for a person', async () => {
    const reports: RuntimeReport[] = [];
    const runtime = await folders.open({
      options: { concurrency: 2, recoveryPolicy: 'auto' },
      onDidReport: (report) => reports.push(report),
    });
    await runtime.history.whenOpen();
    const kept = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'kept', command: waitsFor('one', 0) } });
    const gone = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'gone', command: waitsFor('two', 0) } });
    await until(
      runtime.queue.onDidChange,
      () => jobOf(runtime, kept.jobId)?.state === 'running' && jobOf(runtime, gone.jobId)?.state === 'running',
      'both run',
    );
    const backup = await runtime.createBackup();
    writeFileSync(join(folders.workspace, 'two'), '');
    await until(runtime.history.onDidChange, () => entries(runtime).length === 1, 'the second is recorded');
    await runtime.queue.execute({ type: 'clearFinished' });
    writeFileSync(join(folders.workspace, 'one'), '');
    await until(runtime.history.onDidChange, () => entries(runtime).length === 2, 'both are recorded');
    assert.equal(jobOf(runtime, gone.jobId), undefined, 'the second is gone from the queue');

    const result = await runtime.restoreBackup(backup.id);
    assert.deepEqual(result.keptFromLive, [kept.jobId]);
    assert.deepEqual(
      result.interrupted.map((job) => job.id),
      [gone.jobId],
    );
    assert.equal(jobOf(runtime, kept.jobId)?.state, 'succeeded', 'its run ended here: it is not run again');
    assert.equal(jobOf(runtime, gone.jobId)?.state, 'interrupted');
    assert.ok(
      reports.some((report) => report.type === 'recoveryNeeded'),
      'a person is asked',
    );
    await runtime.close();
    assert.equal(jobOf(runtime, gone.jobId)?.attempts, 1, 'the recovery policy did not resume it on its own');
  });

  it('keeps the output of jobs a restore took out while its safety backup exists: undoing the restore brings them back with their output', async () => {
    const runtime = await folders.open({ options: { recoveryPolicy: 'off' } });
    await runtime.history.whenOpen();
    const backup = await runtime.createBackup();
    const later = await runtime.queue.execute({ type: 'enqueue', definition: { name: 'later', command: 'echo output-of-later' } });
    await until(runtime.queue.onDidChange, () => jobOf(runtime, later.jobId)?.state === 'succeeded', 'the later job ran');
    const log = runtime.outputLogPath(jobOf(runtime, later.jobId) as Job);
    assert.ok(log && readFileSync(log, 'utf8').includes('output-of-later'));
    // Old enough for the sweep when the queue opens again, and for the cleanup: only the record of the restore keeps them.
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const name of readdirSync(runtime.jobsDirectory)) {
      if (name.startsWith(encodeURIComponent(String(later.jobId)))) utimesSync(join(runtime.jobsDirectory, name), hourAgo, hourAgo);
    }

    const result = await runtime.restoreBackup(backup.id);
    assert.equal(jobOf(runtime, later.jobId), undefined, 'the restore took the job out');
    await runtime.services.cleanup?.runNow();
    assert.ok(existsSync(log), 'its output log is still there');

    await runtime.restoreBackup(result.safetyBackup.id);
    const back = jobOf(runtime, later.jobId);
    assert.equal(back?.state, 'succeeded');
    assert.equal(runtime.outputLogPath(back as Job), log);
    assert.ok(readFileSync(log, 'utf8').includes('output-of-later'), 'undoing the restore brought the job back with its output');
  });

  it('refuses a garbage, truncated, tampered or foreign backup with a specific error, and changes nothing', async () => {
    const runtime = await folders.open({ options: { concurrency: 1 } });
    await runtime.history.whenOpen();
    await runtime.queue.execute({ type: 'enqueue', definition: { name: 'one', command: 'echo one' } });
    await until(runtime.history.onDidChange, () => entries(runtime).length === 1, 'the job is recorded');
    const good = await runtime.createBackup();
    const manager = runtime.services.backups?.manager;
    assert.ok(manager);
    const backups = join(runtime.storageDirectory, 'backups');
    const bytes = readFileSync(good.path);

    const cases: { name: string; write(path: string): Promise<void> | void; expect(error: unknown): boolean }[] = [
      {
        name: 'garbage',
        write: (path) => writeFileSync(path, 'this is not a backup at all'),
        expect: (error) => InvalidBackupError.isProblem(error, 'notABackup'),
      },
      {
        name: 'truncated',
        write: (path) => {
          writeFileSync(path, bytes);
          truncateSync(path, bytes.byteLength - 40);
        },
        expect: (error) => InvalidBackupError.isProblem(error, 'truncated'),
      },
      {
        name: 'tampered',
        write: (path) => {
          const copy = Buffer.from(bytes);
          copy[copy.byteLength - 50] = (copy[copy.byteLength - 50] ?? 0) ^ 0xff;
          writeFileSync(path, copy);
        },
        expect: (error) => InvalidBackupError.isProblem(error, 'fileChecksum'),
      },
      {
        name: 'foreign',
        write: async (path) => {
          await writeBackupFile(path, [{ name: 'somethingElse', bytes: Buffer.from('hello'), summary: 'not ours' }], {
            createdAt: new Date(),
            appVersion: 'other',
            reason: 'manual',
          });
        },
        expect: (error) => StorageError.is(error, 'invalidBackup') && /somethingElse/.test((error as Error).message),
      },
    ];
    for (const [index, hostile] of cases.entries()) {
      const id = `backup-20260101T00000000${index}Z-manual-0000000${index}.llbackup`;
      await hostile.write(join(backups, id));
      const before = filesOf(runtime.storageDirectory);
      const jobsBefore = JSON.stringify(runtime.queue.jobs);
      await assert.rejects(runtime.restoreBackup(id), (error) => hostile.expect(error), `${hostile.name}: refused with its own reason`);
      assert.deepEqual(filesOf(runtime.storageDirectory), before, `${hostile.name}: no store file and no backup changed`);
      assert.equal(JSON.stringify(runtime.queue.jobs), jobsBefore, `${hostile.name}: the queue is as it was`);

      // The same file imported from outside the folder: refused too (the foreign one is a valid file, so it imports).
      const outside = join(folders.workspace, `${hostile.name}.llbackup`);
      await hostile.write(outside);
      if (hostile.name === 'foreign') continue;
      const beforeImport = filesOf(runtime.storageDirectory);
      await assert.rejects(manager.importFile(outside), (error) => hostile.expect(error), `${hostile.name}: import refused`);
      assert.deepEqual(filesOf(runtime.storageDirectory), beforeImport, `${hostile.name}: nothing imported`);
    }
  });

  it('exports a backup and imports it back under a new id that rotation never removes', async () => {
    const runtime = await folders.open({ options: { backupKeep: 1 } });
    await runtime.history.whenOpen();
    const manager = runtime.services.backups?.manager;
    assert.ok(manager);
    const made = await runtime.services.backups?.backupNow('scheduled');
    assert.ok(made);
    const outside = join(folders.workspace, 'copy.llbackup');
    await manager.exportTo(made.id, outside);
    assert.deepEqual(readFileSync(outside), readFileSync(made.path), 'the export is the same bytes');
    const imported = await manager.importFile(outside);
    assert.notEqual(imported.id, made.id);
    assert.equal(imported.imported, true);
    assert.equal(imported.reason, 'scheduled', 'it keeps the reason it was made for');
    const second = await manager.importFile(outside);
    assert.notEqual(second.id, imported.id, 'importing the same file twice never overwrites');
    await runtime.services.backups?.backupNow('scheduled');
    await runtime.services.backups?.backupNow('scheduled');
    const ids = (await manager.list()).map((info) => info.id);
    assert.ok(ids.includes(imported.id) && ids.includes(second.id), 'imported backups are not rotated');
    assert.ok(!ids.includes(made.id), 'the scheduled one past the count was');
  });
});
