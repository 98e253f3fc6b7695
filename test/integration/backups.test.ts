import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { HistoryEntry } from '../../src/core/history/historyEntry';
import type { Job } from '../../src/core/queue/jobModel';
import type { LifelineHistoryApi, LifelineQueueApi } from '../../src/extension';
import { lifelineApi as api, until } from './integrationKit';

async function ready(): Promise<{ queue: LifelineQueueApi; history: LifelineHistoryApi; backups: string }> {
  const lifeline = await api();
  const queue = await lifeline.whenQueueReady();
  const history = await lifeline.whenHistoryReady();
  assert.ok(queue && history && lifeline.storageDirectory, 'a trusted folder is open and this window holds the queue');
  return { queue, history, backups: join(lifeline.storageDirectory, 'backups') };
}

function files(folder: string): string[] {
  return existsSync(folder) ? readdirSync(folder).sort() : [];
}

describe('backups (in a real extension host)', function () {
  this.timeout(120_000);
  let scratch = '';
  before(() => (scratch = mkdtempSync(join(tmpdir(), 'lifeline-backups-it-'))));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('creates a backup and restores it in place while a job runs across the restore', async () => {
    const { queue, history, backups } = await ready();
    const id = await vscode.commands.executeCommand<string>('lifeline.createBackup', { includeArchive: false });
    assert.ok(id && existsSync(join(backups, id)), 'the backup file is in the backups folder');

    const go = join(scratch, 'go');
    const { jobId } = await queue.execute({
      type: 'enqueue',
      // Ends when the test says so, or when its folder goes (after() of a failed run): never left running.
      definition: { name: 'across the restore', command: `while [ -d '${scratch}' ] && [ ! -e '${go}' ]; do sleep 0.05; done; exit 7` },
    });
    const running = (): Job | undefined => queue.getJob(jobId as string);
    await until(queue.onDidChange, () => running()?.state === 'running' && running()?.pid !== undefined, 'the job runs');
    const pid = running()?.pid;
    const { jobId: afterId } = await queue.execute({ type: 'enqueue', definition: { name: 'after the backup', command: 'true' } });
    await until(queue.onDidChange, () => queue.getJob(afterId as string)?.state === 'succeeded', 'the second job ends');

    const result = await vscode.commands.executeCommand<{ keptRunning: string[]; safetyBackup: string }>('lifeline.restoreBackup', {
      id,
      confirmed: true,
    });
    assert.deepEqual(result?.keptRunning, [jobId], 'the running job is kept');
    assert.ok(existsSync(join(backups, result.safetyBackup)), 'a safety backup was written first');
    assert.equal(queue.getJob(afterId as string), undefined, 'the job queued after the backup is gone: the queue is the backup’s');
    assert.equal(running()?.state, 'running');
    assert.equal(running()?.pid, pid, 'the same process goes on');

    const since = Date.now() - 1;
    writeFileSync(go, '');
    await until(queue.onDidChange, () => running()?.state === 'failed', 'the job ends');
    assert.equal(running()?.result?.exitCode, 7, 'it ends with its own exit code');
    await until(history.onDidChange, () => history.recent(200).some((entry) => entry.name === 'across the restore'), 'it is recorded');
    const recorded = history.recent(200).filter((entry: HistoryEntry) => entry.name === 'across the restore' && entry.finishedAt >= since);
    assert.equal(recorded.length, 1, 'it appears once in the history');
    assert.equal(recorded[0]?.exitCode, 7);
  });

  it('deletes, exports and imports backups', async () => {
    const { backups } = await ready();
    const id = await vscode.commands.executeCommand<string>('lifeline.createBackup', { includeArchive: false });
    assert.ok(id);
    const target = join(scratch, 'exported.llbackup');
    const exported = await vscode.commands.executeCommand<string>('lifeline.exportBackup', { id, target: vscode.Uri.file(target) });
    assert.equal(exported, target);
    assert.deepEqual(readFileSync(target), readFileSync(join(backups, id)), 'the export is the backup’s bytes');

    const deleted = await vscode.commands.executeCommand<string>('lifeline.deleteBackup', { id, confirmed: true });
    assert.equal(deleted, id);
    assert.ok(!files(backups).includes(id), 'the file is gone');

    const imported = await vscode.commands.executeCommand<string>('lifeline.importBackup', { source: vscode.Uri.file(target) });
    assert.ok(imported && imported !== id, 'imported under an id of its own');
    assert.deepEqual(readFileSync(join(backups, imported)), readFileSync(target));
    const again = await vscode.commands.executeCommand<string>('lifeline.importBackup', { source: vscode.Uri.file(target) });
    assert.ok(again && again !== imported, 'a second import never overwrites the first');
  });

  it('refuses a hostile file on import and on restore, and changes nothing', async () => {
    const { queue, backups } = await ready();
    const garbage = join(scratch, 'garbage.llbackup');
    writeFileSync(garbage, Buffer.from('\x89LLBK\r\n\x1a\x00\x01\x00\x00\x00\xff\xff\xff\xff', 'latin1'));
    const before = files(backups);
    const refused = await vscode.commands.executeCommand<{ error: string }>('lifeline.importBackup', { source: vscode.Uri.file(garbage) });
    assert.match(refused?.error ?? '', /cut short|manifest/, 'refused with the file’s own problem');
    assert.deepEqual(files(backups), before, 'nothing was imported');

    // The same bytes given a backup's name inside the folder: a restore refuses them too.
    const planted = 'backup-20260101T000000000Z-manual-0badf00d.llbackup';
    writeFileSync(join(backups, planted), readFileSync(garbage));
    const jobsBefore = JSON.stringify(queue.jobs);
    const listed = files(backups);
    const restore = await vscode.commands.executeCommand<{ error: string }>('lifeline.restoreBackup', { id: planted, confirmed: true });
    assert.match(restore?.error ?? '', /cut short|manifest/);
    assert.deepEqual(files(backups), listed, 'no safety backup: nothing was written');
    assert.equal(JSON.stringify(queue.jobs), jobsBefore, 'the queue is as it was');
    rmSync(join(backups, planted));
  });
});
