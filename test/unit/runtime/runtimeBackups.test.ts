import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../../src/core/clock';
import { currentSchemaVersion } from '../../../src/core/history/schema';
import { MemoryLogger } from '../../../src/core/logger';
import { queueCodec } from '../../../src/core/queue/durableQueueLog';
import type { RuntimeBackups } from '../../../src/core/runtime/runtimeBackups';
import type { RuntimeReport } from '../../../src/core/runtime/runtimeReports';
import type { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { DurableStore } from '../../../src/core/storage/durableStore';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { useRuntimeFolders } from './runtimeTestKit';

const HOUR = 3_600_000;

function backupsOf(runtime: WorkspaceRuntime): RuntimeBackups {
  const backups = runtime.services.backups;
  assert.ok(backups, 'the runtime has a backups service');
  return backups;
}

function backupFiles(runtime: WorkspaceRuntime): string[] {
  const dir = join(runtime.storageDirectory, 'backups');
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith('.llbackup'))
        .sort()
    : [];
}

function queueEvents(reports: readonly RuntimeReport[]): StorageEvent[] {
  return reports.flatMap((report) => (report.type === 'queueStorage' ? [report.event] : []));
}

/** Folds the closed queue's journal into a new snapshot: the journal generation that held the older records is gone. */
async function compactQueue(storage: string): Promise<void> {
  const store = await DurableStore.open({ directory: join(storage, 'queue'), name: 'queue', codec: queueCodec, compaction: false });
  await store.compact();
  await store.close();
}

describe('WorkspaceRuntime: automatic backups', () => {
  const folders = useRuntimeFolders();

  it('backs up on its schedule, only when something changed since the last backup', async () => {
    const clock = new ManualClock();
    const runtime = await folders.open({ clock, options: { backupIntervalHours: 24 } });
    await runtime.history.whenOpen();
    const backups = backupsOf(runtime);
    // The runtime wrote the concurrency flag on open, and there is no backup yet: one is due at once.
    const first = await backups.checkSchedule();
    assert.equal(first?.reason, 'scheduled');
    assert.deepEqual(
      first?.parts.map((part) => part.name),
      ['queue', 'history', 'state'],
      'the queue, the active history and the state store, in one file',
    );
    assert.equal(await backups.checkSchedule(), undefined, 'nothing changed since');

    await runtime.queue.execute({ type: 'setPaused', paused: false });
    assert.equal(await backups.checkSchedule(), undefined, 'not due before the interval has passed');
    clock.advance(24 * HOUR); // the timer runs the check; the next one waits for it
    assert.equal(await backups.checkSchedule(), undefined);
    assert.equal(backupFiles(runtime).length, 2, 'the timer wrote the second backup once the interval passed');

    clock.advance(48 * HOUR);
    assert.equal(await backups.checkSchedule(), undefined);
    assert.equal(backupFiles(runtime).length, 2, 'nothing changed: no backup however long the wait');

    await runtime.close();
    // A later run knows what the newest backup holds: still nothing new to back up.
    clock.advance(48 * HOUR);
    const again = await folders.open({ clock, options: { backupIntervalHours: 24 } });
    await again.history.whenOpen();
    assert.equal(await backupsOf(again).checkSchedule(), undefined, 'the newest backup already holds this state');
    assert.equal(backupFiles(again).length, 2);
  });

  it('keeps the newest backups by count and by age', async () => {
    const clock = new ManualClock();
    const runtime = await folders.open({ clock, options: { backupIntervalHours: 1, backupKeep: 3, backupMaxAgeDays: 30 } });
    await runtime.history.whenOpen();
    const backups = backupsOf(runtime);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      await runtime.queue.execute({ type: 'setPaused', paused: i % 2 === 0 });
      clock.jump(HOUR);
      const info = await backups.checkSchedule();
      assert.ok(info, `backup ${i} was written`);
      made.push(info.id);
    }
    assert.deepEqual(backupFiles(runtime), made.slice(2).sort(), 'three kept, the oldest two deleted');

    clock.jump(40 * 24 * HOUR);
    runtime.updateOptions({ backupKeep: 10 });
    assert.deepEqual((await backups.manager.rotate()).sort(), made.slice(2, 4), 'past 30 days: gone, the newest aside');
    assert.deepEqual(backupFiles(runtime), [made[4]]);
  });

  it('backs up the history as it was, with the queue, before migrating its schema', async () => {
    const first = await folders.open({ clock: new ManualClock() });
    await first.queue.execute({ type: 'setPaused', paused: true });
    await first.close();
    const historyDir = join(first.storageDirectory, 'history');
    for (const file of readdirSync(historyDir)) if (/^history\./.test(file)) rmSync(join(historyDir, file));
    // The committed version-1 history (entries 1-4 in the snapshot, 5-6 in the journal).
    const fixture = join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'history', 'fixtures', 'v1');
    for (const file of readdirSync(fixture)) copyFileSync(join(fixture, file), join(historyDir, file));
    const v1Snapshot = readFileSync(join(historyDir, 'history.snapshot'));

    // A clock that never fires: no scheduled backup joins the one before the migration.
    const runtime = await folders.open({ clock: new ManualClock() });
    const history = await runtime.history.whenOpen();
    assert.equal(history?.active.schemaVersion, currentSchemaVersion, 'the history was migrated');
    const list = await backupsOf(runtime).manager.list();
    assert.deepEqual(
      list.map((info) => info.reason),
      ['beforeMigration'],
    );
    const backup = await backupsOf(runtime).manager.read(list[0]?.id ?? '');
    const parts = new Map(backup.parts.map((part) => [part.name, part]));
    assert.deepEqual(Buffer.from(parts.get('history')?.bytes ?? []), v1Snapshot, 'the history part is the version-1 snapshot');
    assert.match(parts.get('history')?.summary ?? '', new RegExp(`schema 1, before the migration to ${currentSchemaVersion}`));
    assert.ok(parts.has('queue'), 'the queue, already open, is in it too');
  });
});

describe('WorkspaceRuntime: opening a damaged store from the newest backup', () => {
  const folders = useRuntimeFolders();

  it('opens a queue whose snapshot is damaged (and whose previous generation is gone) from the newest backup, and reports what was lost', async () => {
    const clock = new ManualClock();
    const first = await folders.open({ clock });
    await first.history.whenOpen();
    await first.queue.execute({ type: 'setPaused', paused: true });
    await first.queue.execute({ type: 'setConcurrency', limit: 4 });
    const backup = await backupsOf(first).checkSchedule();
    assert.ok(backup);
    await first.queue.execute({ type: 'setConcurrency', limit: 5 }); // in the snapshot below, not in the backup
    await first.close();
    await compactQueue(first.storageDirectory);

    const second = await folders.open({ clock, options: { concurrency: 6 } });
    await second.history.whenOpen();
    await second.queue.execute({ type: 'setPaused', paused: false });
    await second.close();
    const queueDir = join(first.storageDirectory, 'queue');
    writeFileSync(join(queueDir, 'queue.snapshot'), 'damaged beyond repair');
    // The store keeps the generation before the compaction to repair from: take it away too, so
    // the newest backup is all that is left.
    rmSync(join(queueDir, 'queue.snapshot.previous'), { force: true });
    rmSync(join(queueDir, 'queue.00000001.journal'));
    assert.deepEqual(
      readdirSync(queueDir).filter((name) => name.endsWith('.journal')),
      ['queue.00000002.journal'],
      'only the journal after the compaction is left',
    );

    const reports: RuntimeReport[] = [];
    const logger = new MemoryLogger();
    const third = await folders.open({ clock, logger, options: { concurrency: 4 }, onDidReport: (report) => reports.push(report) });
    const events = queueEvents(reports);
    assert.deepEqual(
      events.map((event) => event.type),
      ['quarantined', 'quarantined', 'recoveredFromBackup', 'dataLost'],
      'the snapshot and the journal that does not follow the backup are set aside',
    );
    const recovered = events.find((event) => event.type === 'recoveredFromBackup');
    assert.ok(recovered, `opened from the backup, got ${JSON.stringify(events)}`);
    const lost = events.find((event) => event.type === 'dataLost');
    assert.ok(lost?.type === 'dataLost', `the records after the backup are reported lost, got ${JSON.stringify(events)}`);
    assert.equal(lost.cause, 'snapshotDamaged');
    assert.equal(lost.fromSequence, recovered.type === 'recoveredFromBackup' ? recovered.sequence + 1 : -1);
    assert.ok(lost.toSequence !== undefined && lost.toSequence >= lost.fromSequence, 'the end of the loss is known from the journal');
    assert.equal(third.queue.flags?.paused, true, 'the state is the backup’s');
    assert.ok(logger.lines.some((line) => line.message.includes(`opens from the backup ${backup.id}`)));
  });

  it('falls back to the older backup when the newest does not verify, and leaves the damaged one and strangers alone', async () => {
    const clock = new ManualClock();
    const first = await folders.open({ clock, options: { backupIntervalHours: 1 } });
    await first.history.whenOpen();
    await first.queue.execute({ type: 'setPaused', paused: true });
    const older = await backupsOf(first).checkSchedule();
    await first.queue.execute({ type: 'setPaused', paused: false });
    clock.jump(HOUR);
    const newest = await backupsOf(first).checkSchedule();
    assert.ok(older && newest);
    await first.close();

    const backupsDir = join(first.storageDirectory, 'backups');
    const bytes = readFileSync(join(backupsDir, newest.id));
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    writeFileSync(join(backupsDir, newest.id), bytes);
    writeFileSync(join(backupsDir, 'notes.txt'), 'a person left this here');
    writeFileSync(join(first.storageDirectory, 'queue', 'queue.snapshot'), 'damaged');
    for (const name of readdirSync(join(first.storageDirectory, 'queue'))) {
      if (name.endsWith('.journal')) rmSync(join(first.storageDirectory, 'queue', name));
    }

    const reports: RuntimeReport[] = [];
    const logger = new MemoryLogger();
    const second = await folders.open({
      clock,
      logger,
      options: { backupIntervalHours: 1 },
      onDidReport: (report) => reports.push(report),
    });
    assert.ok(queueEvents(reports).some((event) => event.type === 'recoveredFromBackup'));
    assert.equal(second.queue.flags?.paused, true, 'the older backup’s state');
    assert.ok(
      logger.lines.some((line) => line.message.includes(`skipped the backup ${newest.id}`)),
      'the damaged backup is logged',
    );
    assert.ok(logger.lines.some((line) => line.message.includes('notes.txt') && line.message.includes('not a Lifeline backup')));

    // Rotation and later backups leave both files where they are.
    await second.history.whenOpen();
    await second.queue.execute({ type: 'setConcurrency', limit: 3 });
    clock.jump(HOUR);
    assert.ok(await backupsOf(second).checkSchedule());
    await backupsOf(second).manager.rotate();
    assert.ok(existsSync(join(backupsDir, newest.id)), 'a damaged backup is never deleted by rotation');
    assert.equal(readFileSync(join(backupsDir, 'notes.txt'), 'utf8'), 'a person left this here');
    assert.equal(logger.lines.filter((line) => line.message.includes('notes.txt')).length, 1, 'said once');
  });
});
