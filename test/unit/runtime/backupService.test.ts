import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BACKUP_SERVICE } from '../../../src/core/runtime/backupService';
import { until, useRuntimeFolders } from './runtimeTestKit';

describe('WorkspaceRuntime: backups from a window that does not hold the queue', function () {
  this.timeout(30_000);
  const folders = useRuntimeFolders();

  it('creates, restores and deletes through the holder, and the holder refuses a hostile request', async () => {
    const holder = await folders.open({ options: { recoveryPolicy: 'off' } });
    const client = await folders.open();
    assert.equal(client.queue.role, 'client');
    await client.queue.execute({ type: 'enqueue', definition: { name: 'kept', command: 'echo kept' } });
    await until(holder.queue.onDidChange, () => holder.queue.jobs.every((job) => job.state === 'succeeded'), 'the job ran');

    const { id } = await client.backups({ op: 'create', includeArchive: false });
    assert.ok(existsSync(join(holder.storageDirectory, 'backups', id)), 'the holder wrote it');

    await client.queue.execute({ type: 'enqueue', definition: { name: 'after', command: 'echo after' } });
    // Finished: a job still running across a restore is kept (restore-in-place's merge rule).
    await until(
      client.queue.onDidChange,
      () => client.queue.jobs.length === 2 && client.queue.jobs.every((job) => job.state === 'succeeded'),
      'the client sees the second job finished',
    );
    const restored = await client.backups({ op: 'restore', id });
    assert.ok(restored.safetyBackup.endsWith('.llbackup'));
    await until(client.queue.onDidChange, () => client.queue.jobs.length === 1, 'the client sees the restored queue');
    assert.deepEqual(
      holder.queue.jobs.map((job) => job.name),
      ['kept'],
    );

    await client.backups({ op: 'delete', id });
    assert.ok(!existsSync(join(holder.storageDirectory, 'backups', id)));

    for (const hostile of [
      { op: 'restore', id: '../../etc/passwd', token: 'abcdefgh12' },
      { op: 'restore', id: 'x.llbackup' },
      { op: 'import', path: 'relative.llbackup' },
      { op: 'wipe' },
      'x',
    ]) {
      await assert.rejects(client.queue.request(BACKUP_SERVICE, hostile), /Not a backup request/);
    }
  });
});
