import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../../src/core/clock';
import { parseEntry } from '../../../src/core/history/historyEntry';
import { HistoryError } from '../../../src/core/history/historyErrors';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import { readSnapshotHeader, writeSnapshot } from '../../../src/core/storage/snapshot';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import type { JobHistory } from '../../../src/core/history/jobHistory';
import { day, epoch, makeEntry, openHistory, tempDir } from './historyFixtures';

async function fill(history: JobHistory, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await history.append(makeEntry(i));
}

async function allArchived(history: JobHistory): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await history.archivePage({ direction: 'asc', limit: 97, cursor });
    ids.push(...page.entries.map((item) => item.entry.jobId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

describe('history archive', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('archive')));
  afterEach(() => dir.remove());

  it('archives only once the active history passes N by the margin, down to N', async () => {
    const { history } = await openHistory(dir.path, { log: new MemoryHistoryLog(), maxActiveEntries: 10, archiveMargin: 5 });
    await fill(history, 1, 15);
    await history.whenIdle();
    assert.equal(history.active.count, 15);
    assert.equal(history.archive.count, 0);
    await fill(history, 16, 16);
    await history.whenIdle();
    assert.equal(history.active.count, 10);
    assert.deepEqual(
      await allArchived(history),
      [1, 2, 3, 4, 5, 6].map((i) => makeEntry(i).jobId),
    );
    // The active history keeps the newest N.
    assert.equal(history.page({ direction: 'asc' }).entries[0]?.jobId, makeEntry(7).jobId);
    await history.close();
  });

  it('moves the overflow in batches of archiveBatchSize, one set of shards per batch', async () => {
    const { history } = await openHistory(dir.path, {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 10,
      archiveMargin: 1000,
      archiveBatchSize: 25,
    });
    await fill(history, 1, 100);
    assert.deepEqual(await history.archiveNow(), { archived: 90, batches: 4 });
    assert.deepEqual([...new Set(history.archive.shards.map((s) => s.batch))], [1, 2, 3, 4]);
    assert.equal(history.archive.count, 90);
    assert.equal(history.active.count, 10);
    assert.deepEqual(await history.archiveNow(), { archived: 0, batches: 0 });
    await history.close();
  });

  it('archives at startup what is past N', async () => {
    const log = new MemoryHistoryLog();
    const first = await openHistory(dir.path, { log, maxActiveEntries: 50, archiveMargin: 100 });
    await fill(first.history, 1, 60);
    await first.history.close();
    const { history } = await openHistory(dir.path, { log, maxActiveEntries: 20 });
    await history.whenIdle();
    assert.equal(history.active.count, 20);
    assert.equal(history.archive.count, 40);
    await history.close();
  });

  it('splits shards by month and caps them by size; the index lets a query open only matching shards', async () => {
    // Hourly entries: 1,600 span three months.
    const { history } = await openHistory(dir.path, {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 0,
      archiveMargin: 5000,
      archiveBatchSize: 5000,
      maxShardBytes: 256 * 1024,
    });
    await fill(history, 1, 1600);
    await history.archiveNow();
    const shards = history.archive.shards;
    const months = new Set(shards.map((s) => s.month));
    assert.deepEqual([...months].sort(), ['2026-01', '2026-02', '2026-03']);
    assert.ok(shards.length > months.size, 'a busy month gets several shards');
    for (const shard of shards) {
      assert.ok(shard.bytes < 256 * 1024 * 1.3, `${shard.file} is ${shard.bytes} bytes`);
      assert.equal(new Date(shard.minFinishedAt).toISOString().slice(0, 7), new Date(shard.maxFinishedAt).toISOString().slice(0, 7));
      const bytes = readFileSync(join(dir.path, 'archive', 'shards', shard.file));
      assert.equal(bytes.length, shard.bytes);
    }
    assert.equal(
      shards.reduce((sum, s) => sum + s.count, 0),
      1600,
    );
    history.archive.closeShards();
    const from = Date.UTC(2026, 1, 10);
    const page = await history.archivePage({ filter: { from, to: from + 2 * day, states: ['failed'] } });
    assert.equal(page.entries.length, 5);
    assert.ok(page.entries.every((e) => e.entry.state === 'failed' && e.entry.finishedAt >= from));
    assert.equal(history.archive.openShards, 1);
    assert.equal((await allArchived(history)).length, 1600);
    await history.close();
  });

  it('bounds the open-shard cache by memory and closes it when paging stops', async () => {
    const { history } = await openHistory(dir.path, {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 0,
      archiveMargin: 5000,
      archiveBatchSize: 5000,
      maxShardBytes: 128 * 1024,
      shardCacheBytes: 300 * 1024,
      shardIdleMs: 50,
    });
    await fill(history, 1, 1500);
    await history.archiveNow();
    assert.ok(history.archive.shards.length >= 6);
    // Buffers of closed shards are reused for the next ones: every row must still read back right.
    assert.deepEqual(
      await allArchived(history),
      Array.from({ length: 1500 }, (_, i) => makeEntry(i + 1).jobId),
    );
    const newest = await history.archivePage({ limit: 3 });
    assert.deepEqual(
      newest.entries.map((e) => e.entry),
      [1500, 1499, 1498].map((i) => JSON.parse(JSON.stringify(parseEntry(makeEntry(i))))),
    );
    assert.ok(history.archive.openShards <= 3, `${history.archive.openShards} shards open`);
    assert.ok(history.archive.openShards >= 1);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(history.archive.openShards, 0);
    await history.close();
  });

  it('at idle archives, applies retention, compacts and closes the shards; a closed history refuses work', async () => {
    const { history } = await openHistory(dir.path, {
      maxActiveEntries: 10,
      archiveMargin: 1000,
      compactAfterBytes: 1e9,
      compactIntervalMs: 1e9,
    });
    await fill(history, 1, 40);
    await history.archivePage({ limit: 1 });
    assert.ok(history.active.journalRecords > 0);
    await history.onIdle();
    assert.equal(history.active.count, 10);
    assert.equal(history.archive.count, 30);
    assert.equal(history.archive.openShards, 0);
    assert.equal(history.active.journalRecords, 0);
    await history.close();
    await assert.rejects(history.append(makeEntry(41)), (error) => HistoryError.is(error, 'closed'));
    assert.throws(
      () => history.page(),
      (error) => HistoryError.is(error, 'closed'),
    );
  });

  it('drops what the archive already holds when the active history comes back from an older backup', async () => {
    const log = new MemoryHistoryLog();
    const first = await openHistory(dir.path, { log, maxActiveEntries: 10, archiveMargin: 1000 });
    await fill(first.history, 1, 50);
    await first.history.compact();
    const before = log.image;
    assert.ok(before);
    await first.history.archiveNow();
    await first.history.close();
    log.image = before;
    log.records = [];
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 10 });
    assert.deepEqual(report.reconciledBatches, [1]);
    assert.equal(history.active.count, 10);
    const ids = [...(await allArchived(history)), ...history.page({ limit: 100 }).entries.map((e) => e.jobId)];
    assert.equal(ids.length, 50);
    assert.equal(new Set(ids).size, 50);
    await history.close();
  });

  it('restores an archived entry as the newest active entry without changing the archive', async () => {
    const { history } = await openHistory(dir.path, { log: new MemoryHistoryLog(), maxActiveEntries: 5, archiveMargin: 0 });
    await fill(history, 1, 20);
    await history.whenIdle();
    const before = JSON.stringify(history.archive.shards);
    const target = (await history.archivePage({ direction: 'asc' })).entries[2];
    assert.ok(target);
    const restored = await history.restore(target.shard, target.entry.jobId);
    assert.equal(restored.restoredFrom, target.shard);
    assert.equal(history.page().entries[0]?.jobId, target.entry.jobId);
    assert.equal(JSON.stringify(history.archive.shards), before);
    // Archived again later, the copy is dropped, not sealed a second time.
    await fill(history, 21, 30);
    await history.archiveNow();
    const ids = await allArchived(history);
    assert.equal(ids.filter((id) => id === target.entry.jobId).length, 1);
    assert.equal(ids.length, 25);
    await history.close();
  });

  it('deletes whole shards past the retention, and keeps everything at 0 days', async () => {
    let now = epoch + 200 * 3_600_000;
    const options = {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 10,
      archiveMargin: 0,
      maxShardBytes: 32 * 1024,
      clock: { ...systemClock, now: () => now },
    };
    const keepAll = await openHistory(dir.path, { ...options, retentionDays: 0 });
    await fill(keepAll.history, 1, 200);
    await keepAll.history.whenIdle();
    assert.equal(await keepAll.history.applyRetention(), 0);
    const shardCount = keepAll.history.archive.shards.length;
    await keepAll.history.close();
    now = epoch + 200 * 3_600_000;
    // Retention runs at startup (and at idle, and on command).
    const { history } = await openHistory(dir.path, { ...options, retentionDays: 3 });
    await history.whenIdle();
    assert.ok(history.archive.shards.length > 0 && history.archive.shards.length < shardCount);
    assert.equal(await history.applyRetention(), 0);
    now += 4 * day;
    assert.ok((await history.applyRetention()) > 0);
    const cutoff = now - 3 * day;
    assert.ok(history.archive.shards.every((s) => s.maxFinishedAt >= cutoff));
    assert.equal(readdirSync(join(dir.path, 'archive', 'shards')).length, history.archive.shards.length);
    await history.close();
  });

  it('quarantines a shard that fails its checksum and tells the caller what was lost', async () => {
    const told: string[] = [];
    const { history } = await openHistory(dir.path, {
      log: new MemoryHistoryLog(),
      maxActiveEntries: 0,
      archiveMargin: 0,
      maxShardBytes: 32 * 1024,
      onLostShard: (lost) => told.push(lost.file),
    });
    await fill(history, 1, 300);
    await history.whenIdle();
    history.archive.closeShards();
    const victim = history.archive.shards[history.archive.shards.length - 1];
    assert.ok(victim);
    const path = join(dir.path, 'archive', 'shards', victim.file);
    const bytes = readFileSync(path);
    // Damage to a row (a flip in free space is not damage: the shard still verifies on its own, #16).
    const needle = Buffer.from(`line ${(victim.minFinishedAt - epoch) / 3_600_000}\ndone`);
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) bytes[at + 1] = 'X'.charCodeAt(0);
    writeFileSync(path, bytes);
    const page = await history.archivePage({ limit: 10 });
    assert.equal(page.lost.length, 1);
    assert.equal(page.lost[0]?.count, victim.count);
    assert.ok(page.lost[0]?.quarantinedTo?.includes('quarantine'));
    assert.equal(page.entries.length, 10);
    assert.ok(page.entries.every((e) => e.entry.finishedAt < victim.minFinishedAt));
    assert.equal((await allArchived(history)).length, 300 - victim.count);
    assert.deepEqual(told, [victim.file]);
    await history.close();
  });

  it('rebuilds a damaged shard index from the shards', async () => {
    const log = new MemoryHistoryLog();
    const first = await openHistory(dir.path, { log, maxActiveEntries: 0, archiveMargin: 0, maxShardBytes: 32 * 1024 });
    await fill(first.history, 1, 200);
    await first.history.whenIdle();
    const broken = first.history.archive.shards[0];
    assert.ok(broken);
    await first.history.close();
    writeFileSync(join(dir.path, 'archive', 'index.json'), '{"formatVersion":1,"sha');
    // And one shard that is not a database at all: it goes to quarantine, not into the new index.
    writeFileSync(join(dir.path, 'archive', 'shards', broken.file), 'not a database');
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0 });
    assert.equal(report.indexRebuilt, true);
    assert.equal((await allArchived(history)).length, 200 - broken.count);
    assert.equal(readdirSync(join(dir.path, 'archive', 'quarantine')).length, 2);
    await history.close();
  });

  it('quarantines an active snapshot that verifies but is not a database and repairs it from the previous generation', async () => {
    const first = await openHistory(dir.path);
    await fill(first.history, 1, 5);
    await first.history.compact();
    await fill(first.history, 6, 8);
    await first.history.close();
    // A valid snapshot (checksums and all) around bytes that are not a database: damage SQLite
    // finds, not the checksum. close() folded every entry into it, and the snapshot before it
    // (entries 1-5) and its journal (6-8) were kept: the history comes back whole, reported.
    const path = join(dir.path, 'history.snapshot');
    const header = readSnapshotHeader(readFileSync(path));
    await writeSnapshot(path, new Uint8Array(8192).fill(7), { generation: header.generation, sequence: header.sequence });
    const events: StorageEvent[] = [];
    const { history, report } = await openHistory(dir.path, { onStorageEvent: (event) => events.push(event) });
    assert.ok(report.imageQuarantinedTo);
    assert.equal(report.lost, false);
    assert.deepEqual(
      events.map((e) => (e.type === 'quarantined' ? `${e.type}:${e.reason}` : e.type)),
      ['quarantined:corruptSnapshot', 'repaired'],
    );
    assert.equal(readdirSync(join(dir.path, 'quarantine')).length, 1);
    assert.equal(history.active.count, 8);
    await history.close();
  });
});
