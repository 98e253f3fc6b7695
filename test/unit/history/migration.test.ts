import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActiveHistory } from '../../../src/core/history/activeHistory';
import { parseEntry } from '../../../src/core/history/historyEntry';
import { HistoryError } from '../../../src/core/history/historyErrors';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import type { HistoryLog } from '../../../src/core/history/historyLog';
import { DurableHistoryLog } from '../../../src/core/history/durableHistoryLog';
import { StorageError } from '../../../src/core/storage/errors';
import { DurableStore } from '../../../src/core/storage/durableStore';
import { historyCodec } from '../../../src/core/history/historyDatabase';
import { activeMigrations, currentSchemaVersion } from '../../../src/core/history/schema';
import type { Migration } from '../../../src/core/history/schema';
import { loadSqlJs } from '../../../src/core/history/sqlLoader';
import { makeEntry, openHistory, tempDir, wasmPath } from './historyFixtures';

/** Writes a version-1 history through the version-1 code path: the v1 schema and its insert. */
async function writeV1Fixture(log: HistoryLog, count: number, compactAfter = count): Promise<void> {
  const SQL = await loadSqlJs(wasmPath);
  const { active } = await ActiveHistory.open(SQL, log, { targetVersion: 1 });
  assert.equal(active.schemaVersion, 1);
  for (let i = 1; i <= count; i++) {
    await active.commit([{ t: 'add', entry: parseEntry(makeEntry(i)) }]);
    if (i === compactAfter) await active.compact();
  }
  await active.close();
}

describe('history schema migration', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('migrate')));
  afterEach(() => dir.remove());

  it('opens a version-1 database, backs it up, then migrates and backfills', async () => {
    const log = new MemoryHistoryLog();
    // 5 entries in the v1 image, 2 more only in the journal (replayed through the v2 code).
    await writeV1Fixture(log, 7, 5);
    const v1Image = log.image;
    const backups: { image: Uint8Array; from: number; to: number }[] = [];
    const { history, report } = await openHistory(dir.path, {
      log,
      beforeMigrate: async (image, from, to) => void backups.push({ image, from, to }),
    });
    assert.deepEqual(report.migrated, { from: 1, to: currentSchemaVersion });
    assert.equal(backups.length, 1);
    assert.deepEqual(backups[0]?.image, v1Image);
    assert.equal(history.active.schemaVersion, 2);
    const entries = history.page({ sort: 'added', direction: 'asc', limit: 100 }).entries;
    assert.equal(entries.length, 7);
    for (const entry of entries) assert.equal(entry.queueWaitMs, (entry.startedAt ?? 0) - entry.createdAt);
    // The migrated image was written at once: opening again neither migrates nor backs up.
    await history.close();
    const again = await openHistory(dir.path, { log, beforeMigrate: async () => assert.fail('no second backup') });
    assert.equal(again.report.migrated, undefined);
    await again.history.close();
  });

  it('opens the committed version-1 fixture (snapshot plus journal on the durable log) and migrates it', async () => {
    // test/unit/history/fixtures/v1: the snapshot's payload is the image the v1 code path wrote
    // (entries 1-4), the journal holds entries 5 and 6. It guards against the v1 schema drifting in code.
    const fixture = join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'history', 'fixtures', 'v1');
    for (const file of readdirSync(fixture)) copyFileSync(join(fixture, file), join(dir.path, file));
    let backedUp = 0;
    const { history, report } = await openHistory(dir.path, { beforeMigrate: async (_image, from) => void (backedUp += from) });
    assert.deepEqual(report.migrated, { from: 1, to: currentSchemaVersion });
    assert.equal(backedUp, 1);
    const entries = history.page({ sort: 'added', direction: 'asc' }).entries;
    assert.deepEqual(
      entries.map((e) => e.jobId),
      [1, 2, 3, 4, 5, 6].map((i) => makeEntry(i).jobId),
    );
    assert.ok(entries.every((e) => e.queueWaitMs === (e.startedAt ?? 0) - e.createdAt));
    assert.equal(history.page({ filter: { search: 'frontend', tag: 'ci' } }).entries.length, 2);
    await history.close();
  });

  it('rolls back with a typed error when a step fails, leaving version 1 intact', async () => {
    const log = new MemoryHistoryLog();
    await writeV1Fixture(log, 4);
    const failing: Migration[] = [
      ...activeMigrations.filter((m) => m.version === 1),
      {
        version: 2,
        description: 'a step that fails half way',
        up: (db) => {
          db.exec('ALTER TABLE entries ADD COLUMN queue_wait_ms INTEGER');
          db.exec('UPDATE no_such_table SET x = 1');
        },
      },
    ];
    let backedUp = 0;
    await assert.rejects(
      openHistory(dir.path, { log, migrations: failing, beforeMigrate: async () => void backedUp++ }),
      (error) => HistoryError.is(error, 'migrationFailed') && /schema 1 to 2/.test(error.message),
    );
    assert.equal(backedUp, 1);
    // The stored image is still version 1 and opens with the v1 code path, all rows there.
    const SQL = await loadSqlJs(wasmPath);
    const { active } = await ActiveHistory.open(SQL, log, { targetVersion: 1 });
    assert.equal(active.schemaVersion, 1);
    assert.equal(active.count, 4);
    assert.equal(active.rows("SELECT 1 FROM pragma_table_info('entries') WHERE name = 'queue_wait_ms'").length, 0);
    await active.close();
  });

  it('refuses a database from a newer version', async () => {
    const log = new MemoryHistoryLog();
    const SQL = await loadSqlJs(wasmPath);
    const { active } = await ActiveHistory.open(SQL, log);
    active.db.exec('PRAGMA user_version = 99');
    await active.compact();
    await active.close();
    await assert.rejects(openHistory(dir.path, { log }), (error) => HistoryError.is(error, 'unsupportedVersion'));
  });

  describe('through the durable log', () => {
    const failing: Migration[] = [
      ...activeMigrations.filter((m) => m.version === 1),
      { version: 2, description: 'a step that fails', up: (db) => db.exec('UPDATE no_such_table SET x = 1') },
    ];

    it('opens a version-1 snapshot plus journal, backs it up, migrates, and writes the migrated snapshot at once', async () => {
      await writeV1Fixture(new DurableHistoryLog({ directory: dir.path }), 7, 5);
      const v1Snapshot = readFileSync(join(dir.path, 'history.snapshot'));
      const backups: { image: Uint8Array; from: number }[] = [];
      const { history, report } = await openHistory(dir.path, { beforeMigrate: async (image, from) => void backups.push({ image, from }) });
      assert.deepEqual(report.migrated, { from: 1, to: currentSchemaVersion });
      assert.deepEqual(report.storageEvents, []);
      assert.equal(backups.length, 1);
      assert.equal(
        Buffer.from(backups[0]?.image ?? [])
          .subarray(0, 15)
          .toString('latin1'),
        'SQLite format 3',
      );
      assert.equal(history.active.schemaVersion, 2);
      const entries = history.page({ sort: 'added', direction: 'asc', limit: 100 }).entries;
      assert.deepEqual(
        entries.map((e) => e.jobId),
        [1, 2, 3, 4, 5, 6, 7].map((i) => makeEntry(i).jobId),
      );
      assert.ok(entries.every((e) => e.queueWaitMs === (e.startedAt ?? 0) - e.createdAt));
      assert.notDeepEqual(readFileSync(join(dir.path, 'history.snapshot')), v1Snapshot);
      await history.close();
      const again = await openHistory(dir.path, { beforeMigrate: async () => assert.fail('no second backup') });
      assert.equal(again.report.migrated, undefined);
      assert.equal(again.history.active.count, 7);
      await again.history.close();
    });

    it('passes a failed migration through as migrationFailed, leaving the version-1 snapshot where it was', async () => {
      await writeV1Fixture(new DurableHistoryLog({ directory: dir.path }), 4);
      const before = readFileSync(join(dir.path, 'history.snapshot'));
      await assert.rejects(openHistory(dir.path, { migrations: failing }), (error) => HistoryError.is(error, 'migrationFailed'));
      assert.equal(existsSync(join(dir.path, 'quarantine')), false);
      assert.deepEqual(readFileSync(join(dir.path, 'history.snapshot')), before);
      const SQL = await loadSqlJs(wasmPath);
      const { active } = await ActiveHistory.open(SQL, new DurableHistoryLog({ directory: dir.path }), { targetVersion: 1 });
      assert.equal(active.count, 4);
      await active.close();
    });

    it('refuses a newer schema as unsupportedVersion without quarantining it', async () => {
      const SQL = await loadSqlJs(wasmPath);
      const { active } = await ActiveHistory.open(SQL, new DurableHistoryLog({ directory: dir.path }));
      await active.commit([{ t: 'add', entry: parseEntry(makeEntry(1)) }]);
      active.db.exec('PRAGMA user_version = 99');
      await active.compact();
      await active.close();
      await assert.rejects(openHistory(dir.path), (error) => HistoryError.is(error, 'unsupportedVersion'));
      assert.equal(existsSync(join(dir.path, 'quarantine')), false);
    });

    it('a restore of a snapshot whose migration fails is refused as migrationFailed, not as damage', async () => {
      await writeV1Fixture(new DurableHistoryLog({ directory: dir.path }), 2);
      const log = new DurableHistoryLog({ directory: dir.path });
      const SQL = await loadSqlJs(wasmPath);
      const { active } = await ActiveHistory.open(SQL, log, { targetVersion: 1 });
      const snapshot = await log.durableStore?.exportSnapshot();
      assert.ok(snapshot);
      await active.close();
      const other = join(dir.path, 'other');
      const store = await DurableStore.open({ directory: other, name: 'history', codec: historyCodec(SQL, { migrations: failing }).codec });
      await assert.rejects(store.replaceWith(snapshot), (error) => StorageError.is(error, 'migrationFailed'));
      await store.close();
      store.state.close();
    });
  });
});
