import * as assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ActiveHistory } from '../../../src/core/history/activeHistory';
import { Archive } from '../../../src/core/history/archive';
import { DurableHistoryLog } from '../../../src/core/history/durableHistoryLog';
import { HistoryDatabase } from '../../../src/core/history/historyDatabase';
import { parseEntry } from '../../../src/core/history/historyEntry';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import { loadSqlJs } from '../../../src/core/history/sqlLoader';
import { BackupManager } from '../../../src/core/storage/backupManager';
import { durableBackupSource } from '../../../src/core/storage/durableBackupSource';
import { StorageError } from '../../../src/core/storage/errors';
import { combineBackupSources, ownedBy } from '../../../src/core/storage/fileBackupSource';
import { decodeSnapshot } from '../../../src/core/storage/snapshot';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { testCipher } from '../storage/storageTestKit';
import { makeEntry, openHistory, tempDir, wasmPath } from './historyFixtures';
import { readIndex, writeIndex } from '../../../src/core/history/shardIndex';

const journalFiles = (dir: string): string[] => readdirSync(dir).filter((name) => /^history\.\d+\.journal$/.test(name));
const ids = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => makeEntry(from + i).jobId);

describe('history on the durable store', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('log')));
  afterEach(() => dir.remove());

  it('acknowledges concurrent appends through the journal and reopens with all of them, in order', async () => {
    const { history } = await openHistory(dir.path);
    await Promise.all([1, 2, 3, 4, 5].map((i) => history.append(makeEntry(i))));
    assert.equal(history.active.count, 5);
    // No compaction ran: nothing but the journal holds them.
    assert.equal(existsSync(join(dir.path, 'history.snapshot')), false);
    assert.equal(journalFiles(dir.path).length, 1);
    await history.close();
    const again = await openHistory(dir.path);
    assert.deepEqual(
      again.history.page({ direction: 'asc' }).entries.map((e) => e.jobId),
      ids(1, 5),
    );
    assert.deepEqual(again.report.storageEvents, []);
    assert.equal(again.report.lost, false);
    await again.history.close();
  });

  it('exports the database only when compacting, never per append; the snapshot is the binary sql.js image', async () => {
    let exports = 0;
    const original = HistoryDatabase.prototype.export;
    HistoryDatabase.prototype.export = function (this: HistoryDatabase) {
      exports++;
      return original.call(this);
    };
    try {
      const { history } = await openHistory(dir.path, { compactAfterBytes: 1e9, compactIntervalMs: 1e9 });
      for (let i = 1; i <= 30; i++) await history.append(makeEntry(i));
      assert.equal(exports, 0);
      await history.compact();
      assert.equal(exports, 1);
      assert.equal(history.active.journalRecords, 0);
      await history.close();
      assert.equal(exports, 1, 'close does not export again when nothing was appended since');
    } finally {
      HistoryDatabase.prototype.export = original;
    }
    const { payload, header } = await decodeSnapshot(readFileSync(join(dir.path, 'history.snapshot')), undefined);
    assert.equal(payload.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    assert.equal(header.sequence, 30);
  });

  it('cuts a torn tail back to the last acknowledged entry and says so', async () => {
    const { history } = await openHistory(dir.path);
    for (let i = 1; i <= 3; i++) await history.append(makeEntry(i));
    await history.close();
    const journal = journalFiles(dir.path).at(-1); // the live generation (the one before it is kept to repair from)
    appendFileSync(join(dir.path, journal ?? ''), Buffer.from([0x20, 0, 0, 0, 9, 9, 9]));
    const { history: again, report } = await openHistory(dir.path);
    assert.equal(again.active.count, 3);
    // After a clean close the bytes are not a crash's torn write: cut (a copy kept) and reported as repaired.
    assert.deepEqual(
      report.storageEvents.map((e) => e.type),
      ['journalTailCut', 'repaired'],
    );
    assert.equal(report.lost, false);
    await again.close();
  });

  /**
   * A history with entries 1-10 in a compacted snapshot, a backup of it, and 11-13 in the journal
   * only; copied as a kill would leave it.
   */
  async function damagedAfterBackup(): Promise<{ copy: string; manager: BackupManager }> {
    const { history } = await openHistory(dir.path);
    const store = history.log instanceof DurableHistoryLog ? history.log.durableStore : undefined;
    assert.ok(store);
    const manager = new BackupManager({
      directory: join(dir.path, 'backups'),
      appVersion: 'test',
      source: durableBackupSource([{ store, summary: () => 'history' }]),
    });
    for (let i = 1; i <= 10; i++) await history.append(makeEntry(i));
    await history.compact();
    await manager.create('manual');
    for (let i = 11; i <= 13; i++) await history.append(makeEntry(i));
    // The files as a SIGKILL now would leave them (close would fold the journal into the snapshot).
    const copy = join(dir.path, 'copy');
    mkdirSync(copy);
    for (const name of readdirSync(dir.path)) if (name.startsWith('history.')) copyFileSync(join(dir.path, name), join(copy, name));
    await history.close();
    // Without the previous generation (the empty state and journal 1), which would repair the snapshot.
    rmSync(join(copy, 'history.00000001.journal'));
    // Flip a byte in the middle of the snapshot: its checksum fails.
    const path = join(copy, 'history.snapshot');
    const bytes = readFileSync(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length >> 1) ^ 0xff, bytes.length >> 1);
    writeFileSync(path, bytes);
    return { copy, manager };
  }

  it('quarantines a corrupt active snapshot, opens from the newest backup plus the journal, and tells the caller', async () => {
    const { copy, manager } = await damagedAfterBackup();
    const events: StorageEvent[] = [];
    const { history, report } = await openHistory(copy, {
      onStorageEvent: (event) => events.push(event),
      loadFallback: async () => (await manager.newestGoodBackup('history'))?.part.bytes,
    });
    assert.ok(report.imageQuarantinedTo?.startsWith(join(copy, 'quarantine')));
    assert.ok(existsSync(report.imageQuarantinedTo ?? ''));
    assert.equal(report.recoveredFromBackup, true);
    // The backup and journal 2 reach every acknowledged entry; journal 1 held nothing the backup lacks.
    assert.equal(report.lost, false);
    assert.deepEqual(
      events.map((e) => e.type),
      ['quarantined', 'recoveredFromBackup', 'repaired'],
    );
    assert.equal(events[0]?.type === 'quarantined' && events[0].reason, 'corruptSnapshot');
    assert.equal(events[1]?.type === 'recoveredFromBackup' && events[1].journalRecordsReplayed, 3);
    assert.deepEqual(
      history.page({ direction: 'asc', limit: 100 }).entries.map((e) => e.jobId),
      ids(1, 13),
    );
    await history.close();
    // What verified was written as a fresh snapshot: the next open is clean.
    const again = await openHistory(copy);
    assert.deepEqual(again.report.storageEvents, []);
    assert.equal(again.history.active.count, 13);
    await again.history.close();
  });

  it('without a backup, opens from the journal records that verify and reports the state as lost', async () => {
    const { copy } = await damagedAfterBackup();
    const { history, report } = await openHistory(copy);
    assert.equal(report.lost, true);
    assert.deepEqual(
      report.storageEvents.map((e) => e.type),
      ['quarantined', 'quarantined', 'stateLost', 'dataLost'],
    );
    // 11-13 continue a state that is gone: set aside as a sequence gap, not applied out of context.
    assert.equal(report.storageEvents[1]?.type === 'quarantined' && report.storageEvents[1].reason, 'sequenceGap');
    assert.equal(readdirSync(join(copy, 'quarantine')).length, 2);
    assert.equal(history.active.count, 0);
    await history.close();
  });

  it('backs up the active history and the sealed shards, and restores both', async () => {
    const { history } = await openHistory(dir.path, { maxActiveEntries: 10, archiveMargin: 0, maxShardBytes: 16 * 1024 });
    for (let i = 1; i <= 60; i++) await history.append(makeEntry(i));
    await history.whenIdle();
    assert.equal(history.archive.count, 50);
    const store = history.log instanceof DurableHistoryLog ? history.log.durableStore : undefined;
    assert.ok(store);
    const manager = new BackupManager({
      directory: join(dir.path, 'backups'),
      appVersion: 'test',
      source: combineBackupSources([
        ownedBy(durableBackupSource([{ store, summary: () => `${history.active.count} entries` }]), (name) => name === 'history'),
        history.archiveBackupSource(),
      ]),
    });
    const backup = await manager.create('manual');
    assert.deepEqual(
      backup.parts.map((p) => p.name).filter((n) => !n.startsWith('history-archive.shards.')),
      ['history', 'history-archive.index.json'],
    );
    assert.equal(backup.parts.filter((p) => p.name.startsWith('history-archive.shards.')).length, history.archive.shards.length);
    // More work after the backup, then the restore takes everything back to it.
    for (let i = 61; i <= 80; i++) await history.append(makeEntry(i));
    await history.whenIdle();
    assert.equal(history.archive.count, 70);
    const backedUp = new Set(backup.parts.map((p) => p.name.replace(/^history-archive\.shards\./, '')));
    const newer = history.archive.shards.map((s) => s.file).filter((file) => !backedUp.has(file));
    assert.ok(newer.length > 0);
    await manager.restore(backup.id);
    assert.equal(history.active.count, 10);
    assert.equal(history.archive.count, 50);
    // Shards newer than the backup are set aside in quarantine, never deleted (#16).
    assert.deepEqual(
      readdirSync(join(dir.path, 'archive', 'quarantine'))
        .map((name) => name.replace(/^.*Z-/, ''))
        .sort(),
      newer.sort(),
    );
    const archived: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await history.archivePage({ direction: 'asc', limit: 100, cursor });
      archived.push(...page.entries.map((e) => e.entry.jobId));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(archived, ids(1, 50));
    assert.deepEqual(
      history.page({ direction: 'asc' }).entries.map((e) => e.jobId),
      ids(51, 60),
    );
    await history.close();
  });

  it('encrypts the snapshot, the journal, the shards and the archive index; a wrong or missing key refuses to open and moves nothing', async () => {
    const key = testCipher();
    const secret = 'deploy --token=hunter2';
    const { history } = await openHistory(dir.path, { cipher: key, maxActiveEntries: 5, archiveMargin: 0 });
    for (let i = 1; i <= 8; i++) await history.append(makeEntry(i, { command: `${secret} ${i}`, tags: ['client-hunter2'] }));
    await history.whenIdle();
    await history.compact();
    await history.append(makeEntry(9, { command: `${secret} 9` }));
    assert.ok(history.archive.count > 0);
    await history.close();
    const files = [
      join(dir.path, 'history.snapshot'),
      ...journalFiles(dir.path).map((name) => join(dir.path, name)),
      ...readdirSync(join(dir.path, 'archive', 'shards')).map((name) => join(dir.path, 'archive', 'shards', name)),
      join(dir.path, 'archive', 'index.json'),
    ];
    assert.ok(files.length >= 4);
    for (const file of files) assert.equal(readFileSync(file).includes('hunter2'), false, `${file} holds the secret in the clear`);

    await assert.rejects(openHistory(dir.path, { cipher: testCipher() }), (error) => StorageError.is(error, 'wrongKey'));
    await assert.rejects(openHistory(dir.path), (error) => StorageError.is(error, 'missingKey'));
    assert.equal(existsSync(join(dir.path, 'quarantine')), false);
    assert.equal(existsSync(join(dir.path, 'archive', 'quarantine')), false);

    const { history: again, report } = await openHistory(dir.path, { cipher: key, maxActiveEntries: 5, archiveMargin: 0 });
    assert.equal(report.lost, false);
    assert.equal(again.active.count + again.archive.count, 9);
    const archived = await again.archivePage({ limit: 100 });
    assert.ok(archived.entries.every((e) => e.entry.command?.startsWith(secret)));
    await again.close();
  });

  it('refuses an encrypted shard read with the wrong key, without quarantining it', async () => {
    const key = testCipher();
    const { history } = await openHistory(dir.path, { cipher: key, maxActiveEntries: 0, archiveMargin: 0 });
    for (let i = 1; i <= 5; i++) await history.append(makeEntry(i));
    await history.whenIdle();
    await history.close();
    const SQL = await loadSqlJs(wasmPath);
    // The index is sealed too, so the wrong key is refused at open, before any shard is read.
    await assert.rejects(Archive.open(SQL, join(dir.path, 'archive'), { cipher: testCipher() }), (error) =>
      StorageError.is(error, 'wrongKey'),
    );
    await assert.rejects(Archive.open(SQL, join(dir.path, 'archive'), {}), (error) => StorageError.is(error, 'missingKey'));
    assert.equal(existsSync(join(dir.path, 'archive', 'quarantine')), false);
    const { archive } = await Archive.open(SQL, join(dir.path, 'archive'), { cipher: key });
    assert.equal(archive.count, 5);
    archive.close();
    // A shard sealed with another key than the index's is refused when read, not quarantined.
    const other = testCipher();
    const index = await readIndex(join(dir.path, 'archive'), key);
    assert.ok(index);
    await writeIndex(join(dir.path, 'archive'), index, other);
    const { archive: mixed } = await Archive.open(SQL, join(dir.path, 'archive'), { cipher: other });
    await assert.rejects(mixed.page({ limit: 10 }), (error) => StorageError.is(error, 'wrongKey'));
    assert.equal(existsSync(join(dir.path, 'archive', 'quarantine')), false);
    mixed.close();
  });

  it('has an in-memory twin with the same contract: survives close and reopen, compaction folds the records', async () => {
    const log = new MemoryHistoryLog();
    const SQL = await loadSqlJs(wasmPath);
    const { active } = await ActiveHistory.open(SQL, log);
    await active.commit([{ t: 'add', entry: parseEntry(makeEntry(1)) }]);
    await active.commit([{ t: 'add', entry: parseEntry(makeEntry(2)) }]);
    assert.equal(log.records.length, 2);
    await active.compact();
    assert.equal(log.records.length, 0);
    assert.ok(log.image);
    await active.commit([{ t: 'add', entry: parseEntry(makeEntry(3)) }]);
    await active.close();
    const { active: again } = await ActiveHistory.open(SQL, log);
    assert.equal(again.count, 3);
    await again.close();
  });
});
