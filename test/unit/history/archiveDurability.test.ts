import * as assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchivedEntry, LostShard } from '../../../src/core/history/archive';
import type { ArchiveEvent } from '../../../src/core/history/archiveRepair';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import type { HistoryLog } from '../../../src/core/history/historyLog';
import type { JobHistory } from '../../../src/core/history/jobHistory';
import type { ShardInfo } from '../../../src/core/history/shardIndex';
import { makeEntry, openHistory, tempDir } from './historyFixtures';

/** Every archived job id, oldest first, across all pages. */
async function allArchived(history: JobHistory): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await history.archivePage({ direction: 'asc', limit: 97, cursor });
    assert.deepEqual(page.lost, []);
    ids.push(...page.entries.map((item) => item.entry.jobId));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

const ids = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => makeEntry(from + i).jobId);

/** Repairs and losses told through the callbacks, as the runtime gets them. */
function listeners(): {
  events: ArchiveEvent[];
  lost: LostShard[];
  options: { onArchiveEvent(e: ArchiveEvent): void; onLostShard(l: LostShard): void };
} {
  const events: ArchiveEvent[] = [];
  const lost: LostShard[] = [];
  return { events, lost, options: { onArchiveEvent: (event) => events.push(event), onLostShard: (shard) => lost.push(shard) } };
}

/** Closed history whose whole `count` entries are archived in several shards of one batch (or `batches`). */
async function archived(dir: string, log: HistoryLog, count = 130, cwd = '/work/project'): Promise<ShardInfo[]> {
  const { history } = await openHistory(dir, { log, maxActiveEntries: 0, archiveMargin: 1000, maxShardBytes: 16 * 1024 });
  for (let i = 1; i <= count; i++) await history.append(makeEntry(i, { cwd }));
  await history.whenIdle();
  await history.archiveNow();
  const shards = [...history.archive.shards];
  assert.equal(history.archive.count, count);
  await history.close();
  return shards;
}

/**
 * Another history store archived like ours (same months, sizes and so file names), with other
 * entries: `cwd` differs in a string of the same length.
 */
async function foreignArchive(): Promise<{ dir: string; shards: ShardInfo[]; remove(): void }> {
  const other = tempDir('archive-foreign');
  const shards = await archived(other.path, new MemoryHistoryLog(), 130, '/work/another');
  return { dir: join(other.path, 'archive'), shards, remove: other.remove };
}

/** Every archived entry and every loss reported along the way, across all pages. */
async function everyPage(history: JobHistory): Promise<{ entries: ArchivedEntry[]; lost: LostShard[] }> {
  const entries: ArchivedEntry[] = [];
  const lost: LostShard[] = [];
  let cursor: string | undefined;
  do {
    const page = await history.archivePage({ direction: 'asc', limit: 97, cursor });
    entries.push(...page.entries);
    lost.push(...page.lost);
    cursor = page.nextCursor;
  } while (cursor);
  return { entries, lost };
}

describe('history archive durability (#16)', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: MemoryHistoryLog;
  beforeEach(() => {
    dir = tempDir('archive-durability');
    log = new MemoryHistoryLog();
  });
  afterEach(() => dir.remove());
  const indexPath = (): string => join(dir.path, 'archive', 'index.json');
  const shardsDir = (): string => join(dir.path, 'archive', 'shards');

  it('rebuilds a deleted index from the shards, keeps every archived entry and reports it', async () => {
    const shards = await archived(dir.path, log);
    assert.ok(shards.length >= 3);
    rmSync(indexPath());
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    assert.equal(report.indexRebuilt, true);
    assert.deepEqual(report.lostShards, []);
    assert.deepEqual(report.archiveEvents, [
      {
        type: 'indexRebuilt',
        reason: 'missing',
        quarantinedTo: undefined,
        shards: shards.length,
        entries: 130,
        detail: `the archive index was missing; rebuilt from ${shards.length} shard(s) that verify`,
      },
    ]);
    assert.deepEqual(told.events, report.archiveEvents);
    assert.deepEqual(told.lost, []);
    // The rebuilt index says what the lost one said, shard for shard.
    assert.deepEqual(history.archive.shards, shards);
    assert.deepEqual(await allArchived(history), ids(1, 130));
    assert.deepEqual(readdirSync(shardsDir()).sort(), shards.map((s) => s.file).sort());
    await history.close();
  });

  it('rebuilds an index whose shard checksum string is damaged instead of blaming the intact shard', async () => {
    const shards = await archived(dir.path, log);
    const victim = shards[1] as ShardInfo;
    writeFileSync(indexPath(), readFileSync(indexPath(), 'utf8').replace(victim.sha256, `zz${victim.sha256.slice(2)}`));
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    assert.equal(report.indexRebuilt, true);
    assert.deepEqual(report.lostShards, []);
    assert.equal(report.archiveEvents.length, 1);
    const event = report.archiveEvents[0];
    assert.ok(event?.type === 'indexRebuilt' && event.reason === 'damaged' && event.shards === shards.length && event.entries === 130);
    assert.ok(event.quarantinedTo && existsSync(event.quarantinedTo), 'the damaged index is kept in quarantine');
    assert.deepEqual(history.archive.shards, shards);
    assert.deepEqual(await allArchived(history), ids(1, 130));
    assert.deepEqual(told.lost, []);
    await history.close();
  });

  it('rejects an index that fails its own checksum even when every field still parses', async () => {
    const shards = await archived(dir.path, log);
    const victim = shards[0] as ShardInfo;
    // A valid-looking but wrong count: only the index's own checksum can catch it.
    const text = readFileSync(indexPath(), 'utf8').replace(`"count":${victim.count},`, `"count":${victim.count + 1},`);
    writeFileSync(indexPath(), text);
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0 });
    assert.equal(report.archiveEvents[0]?.type, 'indexRebuilt');
    assert.equal(history.archive.count, 130);
    assert.deepEqual(history.archive.shards, shards);
    await history.close();
  });

  it('repairs the entry of an older index (no checksum) whose sha256 is wrong but hex, when the shard verifies itself', async () => {
    const shards = await archived(dir.path, log);
    const victim = shards[2] as ShardInfo;
    const index = JSON.parse(readFileSync(indexPath(), 'utf8')) as { checksum?: string; shards: ShardInfo[] };
    delete index.checksum;
    const flipped = (victim.sha256[0] === '0' ? '1' : '0') + victim.sha256.slice(1);
    index.shards = index.shards.map((s) => (s.file === victim.file ? { ...s, sha256: flipped } : s));
    writeFileSync(indexPath(), JSON.stringify(index));
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    // An index of the earlier format opens as it is.
    assert.equal(report.indexRebuilt, false);
    assert.deepEqual(report.archiveEvents, []);
    assert.deepEqual(await allArchived(history), ids(1, 130));
    assert.deepEqual(told.events, [
      {
        type: 'indexEntryRepaired',
        file: victim.file,
        detail: `${victim.file} did not match its index entry but verifies against its own content: its entries are intact and the entry was replaced`,
      },
    ]);
    assert.deepEqual(told.lost, []);
    assert.deepEqual(history.archive.shards, shards);
    assert.equal(existsSync(join(dir.path, 'archive', 'quarantine')), false);
    await history.close();
  });

  it('adopts a verifying shard the index does not name instead of deleting it', async () => {
    const first = await openHistory(dir.path, { log, maxActiveEntries: 0, archiveMargin: 1000, maxShardBytes: 16 * 1024 });
    for (let i = 1; i <= 60; i++) await first.history.append(makeEntry(i));
    await first.history.archiveNow();
    const before = readFileSync(indexPath());
    for (let i = 61; i <= 130; i++) await first.history.append(makeEntry(i));
    await first.history.archiveNow();
    const later = first.history.archive.shards.filter((s) => s.batch === 2);
    assert.ok(later.length >= 2);
    await first.history.close();
    // The index as it was before batch 2 (restored by a sync tool, say): batch 2's shards are unnamed.
    writeFileSync(indexPath(), before);
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    assert.deepEqual(report.lostShards, []);
    assert.deepEqual(
      report.archiveEvents,
      later.map((shard) => ({ type: 'shardAdopted', shard })),
    );
    assert.deepEqual(await allArchived(history), ids(1, 130));
    assert.equal(history.active.count, 0);
    await history.close();
  });

  it('deletes only temp files of unfinished writes; quarantines an unnamed shard that does not verify; leaves other files', async () => {
    const shards = await archived(dir.path, log);
    const victim = shards[0] as ShardInfo;
    const temp = `.${victim.file}.0123456789ab.tmp`;
    writeFileSync(join(shardsDir(), temp), 'half a shard');
    writeFileSync(join(shardsDir(), 'notes.txt'), 'a file of someone else');
    // A shard whose bytes were changed inside a row: it still opens, only its content checksum fails.
    const bytes = readFileSync(join(shardsDir(), victim.file));
    const needle = Buffer.from('line 1\ndone');
    let changed = 0;
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1), changed++) bytes[at + 5] = '9'.charCodeAt(0);
    assert.ok(changed > 0);
    writeFileSync(join(shardsDir(), 'stray.shard'), bytes);
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0 });
    const quarantined = report.archiveEvents.find((e) => e.type === 'unknownShardQuarantined');
    assert.deepEqual(
      report.archiveEvents.map((e) => e.type),
      ['leftoverRemoved', 'unknownShardQuarantined'],
    );
    assert.ok(quarantined?.type === 'unknownShardQuarantined' && quarantined.file === 'stray.shard');
    assert.equal(quarantined.detail, 'its rows fail their content checksum');
    assert.deepEqual(readFileSync(quarantined.quarantinedTo), bytes);
    assert.deepEqual(readdirSync(shardsDir()).sort(), [...shards.map((s) => s.file), 'notes.txt'].sort());
    assert.deepEqual(await allArchived(history), ids(1, 130));
    await history.close();
  });

  it('with a damaged index, says exactly what a damaged or missing shard held, from what the index still says', async () => {
    const shards = await archived(dir.path, log);
    const damaged = shards[1] as ShardInfo;
    const missing = shards[2] as ShardInfo;
    writeFileSync(indexPath(), readFileSync(indexPath(), 'utf8').replace('"nextBatch":2', '"nextBatch":3'));
    writeFileSync(join(shardsDir(), damaged.file), 'not a database');
    rmSync(join(shardsDir(), missing.file));
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    const lost = (shard: ShardInfo, quarantined: boolean): unknown => ({
      file: shard.file,
      month: shard.month,
      count: shard.count,
      minFinishedAt: shard.minFinishedAt,
      maxFinishedAt: shard.maxFinishedAt,
      quarantinedTo: quarantined ? report.lostShards[0]?.quarantinedTo : undefined,
    });
    assert.deepEqual(report.lostShards, [lost(damaged, true), lost(missing, false)]);
    assert.ok(report.lostShards[0]?.quarantinedTo?.includes('quarantine'));
    assert.deepEqual(told.lost, report.lostShards);
    const survivors = shards.filter((s) => s !== damaged && s !== missing);
    assert.deepEqual(history.archive.shards, survivors);
    assert.equal(history.archive.count, 130 - damaged.count - missing.count);
    assert.deepEqual(
      await allArchived(history),
      ids(1, 130).filter((id) => !isIn(id, [damaged, missing])),
    );
    await history.close();
  });
});

describe('history archive: files of another history store (#16)', () => {
  let dir: ReturnType<typeof tempDir>;
  let log: MemoryHistoryLog;
  let foreign: Awaited<ReturnType<typeof foreignArchive>>;
  beforeEach(async () => {
    dir = tempDir('archive-replace');
    log = new MemoryHistoryLog();
    foreign = await foreignArchive();
  });
  afterEach(() => {
    dir.remove();
    foreign.remove();
  });
  const archiveDir = (): string => join(dir.path, 'archive');

  it('reports a shard replaced by the same-named, verifying shard of another store as lost, and never shows its entries', async () => {
    const shards = await archived(dir.path, log);
    assert.deepEqual(
      foreign.shards.map((s) => s.file),
      shards.map((s) => s.file),
    );
    const victim = shards[2] as ShardInfo;
    copyFileSync(join(foreign.dir, 'shards', victim.file), join(archiveDir(), 'shards', victim.file));
    const told = listeners();
    const { history } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    const { entries, lost } = await everyPage(history);
    // The index's own word on what the shard held: its count and range, not the foreign file's.
    assert.deepEqual(
      lost.map(({ quarantinedTo: _q, ...rest }) => rest),
      [
        {
          file: victim.file,
          month: victim.month,
          count: victim.count,
          minFinishedAt: victim.minFinishedAt,
          maxFinishedAt: victim.maxFinishedAt,
        },
      ],
    );
    assert.ok(lost[0]?.quarantinedTo?.includes('quarantine'));
    assert.deepEqual(told.lost, lost);
    assert.deepEqual(told.events, []);
    assert.ok(entries.every((item) => item.entry.cwd === '/work/project'));
    assert.deepEqual(
      entries.map((item) => item.entry.jobId),
      ids(1, 130).filter((id) => !isIn(id, [victim])),
    );
    assert.deepEqual(
      history.archive.shards,
      shards.filter((s) => s !== victim),
    );
    await history.close();
  });

  it("sets aside an index.json replaced by another store's, rebuilds it from our shards and loses nothing", async () => {
    const shards = await archived(dir.path, log);
    copyFileSync(join(foreign.dir, 'index.json'), join(archiveDir(), 'index.json'));
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    assert.equal(report.indexRebuilt, true);
    assert.deepEqual(report.lostShards, []);
    const [event, ...more] = report.archiveEvents;
    assert.deepEqual(more, []);
    assert.ok(event?.type === 'indexRebuilt', JSON.stringify(event));
    assert.equal(event.reason, 'foreign');
    assert.equal(event.shards, shards.length);
    assert.equal(event.entries, 130);
    assert.ok(event.quarantinedTo !== undefined && existsSync(event.quarantinedTo));
    assert.deepEqual(told.lost, []);
    assert.deepEqual(history.archive.shards, shards);
    const { entries, lost } = await everyPage(history);
    assert.deepEqual(lost, []);
    assert.ok(entries.every((item) => item.entry.cwd === '/work/project'));
    assert.deepEqual(
      entries.map((item) => item.entry.jobId),
      ids(1, 130),
    );
    await history.close();
  });

  it('quarantines a verifying shard of another store that the index does not name instead of adopting it', async () => {
    const shards = await archived(dir.path, log);
    const stray = (foreign.shards[0] as ShardInfo).file.replace('-b000001-', '-b000009-');
    copyFileSync(join(foreign.dir, 'shards', (foreign.shards[0] as ShardInfo).file), join(archiveDir(), 'shards', stray));
    const told = listeners();
    const { history, report } = await openHistory(dir.path, { log, maxActiveEntries: 0, ...told.options });
    assert.deepEqual(report.lostShards, []);
    const [event, ...more] = report.archiveEvents;
    assert.deepEqual(more, []);
    assert.ok(event?.type === 'unknownShardQuarantined' && event.file === stray, JSON.stringify(event));
    assert.ok(existsSync(event.quarantinedTo));
    assert.deepEqual(history.archive.shards, shards);
    assert.deepEqual(await allArchived(history), ids(1, 130));
    await history.close();
  });
});

/** Whether the entry with this job id falls in one of these shards' ranges (makeEntry: one entry an hour). */
function isIn(jobId: string, shards: readonly ShardInfo[]): boolean {
  const i = Number(jobId.slice('job-'.length));
  const finishedAt = makeEntry(i).finishedAt;
  return shards.some((s) => finishedAt >= s.minFinishedAt && finishedAt <= s.maxFinishedAt);
}
