import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryAuditLog } from '../../../src/core/storage/auditLog';
import { journalPath, snapshotPath } from '../../../src/core/storage/durableRecovery';
import type { DurableStoreOptions } from '../../../src/core/storage/durableStore';
import { DurableStore } from '../../../src/core/storage/durableStore';
import { StorageError } from '../../../src/core/storage/errors';
import { createJournalFile, Journal } from '../../../src/core/storage/journal';
import { encodeBatch } from '../../../src/core/storage/journalFormat';
import { writeSnapshot } from '../../../src/core/storage/snapshot';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { listCodec, makeTempDir, markCrashedAtOpen, testCipher } from './storageTestKit';

describe('storage: durable store', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let events: StorageEvent[];
  beforeEach(() => {
    temp = makeTempDir();
    events = [];
  });
  afterEach(() => temp.cleanup());

  const open = (extra: Partial<DurableStoreOptions<number[], number>> = {}, dir = temp.dir): Promise<DurableStore<number[], number>> =>
    DurableStore.open({
      directory: dir,
      name: 'list',
      codec: listCodec,
      compaction: false,
      onEvent: (event) => events.push(event),
      ...extra,
    });

  async function reopened(): Promise<number[]> {
    const store = await open();
    const state = [...store.state];
    await store.close();
    return state;
  }

  async function seed(values: number[], extra: Partial<DurableStoreOptions<number[], number>> = {}): Promise<void> {
    const store = await open(extra);
    for (const value of values) await store.commit([value]);
    await store.close();
  }

  it('keeps every acknowledged commit across a reopen', async () => {
    await seed([1, 2, 3]);
    const store = await open();
    assert.deepEqual(store.state, [1, 2, 3]);
    assert.equal(store.sequence, 3);
    await store.close();
  });

  it('commits a batch as one record and concurrent commits in order', async () => {
    const store = await open();
    await Promise.all([store.commit([1, 2, 3]), store.commit([4]), store.commit([5, 6])]);
    assert.equal(store.sequence, 3);
    await store.close();
    const again = await open();
    assert.deepEqual(again.state, [1, 2, 3, 4, 5, 6]);
    await again.close();
  });

  it('compacts into a snapshot, keeps only the previous generation, and reopens the same state', async () => {
    const store = await open();
    for (let value = 0; value < 20; value++) await store.commit([value]);
    await store.compact();
    await store.commit([20]);
    await store.compact();
    assert.ok(store.metrics().lastCompaction);
    await store.close();
    const journals = readdirSync(temp.dir).filter((name) => name.endsWith('.journal'));
    // Generation 2 (its snapshot now `list.snapshot.previous`) stays to repair from; 1 is gone.
    assert.deepEqual(journals, ['list.00000002.journal', 'list.00000003.journal']);
    assert.ok(existsSync(join(temp.dir, 'list.snapshot.previous')));
    const again = await open();
    assert.deepEqual(
      again.state,
      Array.from({ length: 21 }, (_, index) => index),
    );
    await again.close();
  });

  it('compacts in the background on a threshold while commits go on', async () => {
    const store = await open({ compaction: { maxJournalRecords: 10 } });
    const writes: Promise<void>[] = [];
    for (let value = 0; value < 200; value++) writes.push(store.commit([value]));
    await Promise.all(writes);
    for (let value = 200; value < 250; value++) await store.commit([value]);
    await store.whenIdle();
    assert.ok(events.some((event) => event.type === 'compacted'));
    await store.close();
    const again = await open();
    assert.deepEqual(
      again.state,
      Array.from({ length: 250 }, (_, index) => index),
    );
    await again.close();
  });

  describe('every crash point of a compaction opens', () => {
    it('a new journal whose header never reached the disk', async () => {
      await seed([1, 2]);
      writeFileSync(journalPath({ directory: temp.dir, name: 'list' }, 2), Buffer.from('LLJR'));
      const store = await open();
      assert.deepEqual(store.state, [1, 2]);
      await store.commit([3]);
      await store.close();
      assert.deepEqual(await reopened(), [1, 2, 3]);
    });

    it('new journal created, killed while a write to the old one was torn: the torn tail is cut, nothing is quarantined', async () => {
      await seed([11, 22, 333333]);
      markCrashedAtOpen(temp.dir, 'list');
      const layout = { directory: temp.dir, name: 'list' };
      const whole = readFileSync(journalPath(layout, 1));
      const lastRecord = 16 + encodeBatch([Buffer.from('333333')]).length;
      writeFileSync(journalPath(layout, 1), whole.subarray(0, whole.length - Math.floor(lastRecord / 2)));
      await (await createJournalFile(journalPath(layout, 2), 2, undefined)).handle.close();
      const store = await open();
      assert.deepEqual(store.state, [11, 22]);
      assert.deepEqual(
        events.map((event) => event.type),
        ['journalTailCut'],
      );
      await store.commit([44]);
      await store.close();
      assert.deepEqual(await reopened(), [11, 22, 44]);
    });

    it('a torn record in an older journal is still quarantined when a later journal holds records', async () => {
      await seed([11, 22, 333333]);
      const layout = { directory: temp.dir, name: 'list' };
      const whole = readFileSync(journalPath(layout, 1));
      const lastRecord = 16 + encodeBatch([Buffer.from('333333')]).length;
      writeFileSync(journalPath(layout, 1), whole.subarray(0, whole.length - Math.floor(lastRecord / 2)));
      const journal = new Journal(await createJournalFile(journalPath(layout, 2), 2, undefined), 3);
      await journal.append(encodeBatch([Buffer.from('44')]), () => undefined);
      await journal.close();
      const store = await open();
      assert.ok(events.some((event) => event.type === 'quarantined'));
      assert.deepEqual(store.state, [11, 22]);
      await store.close();
    });

    it('rotated, snapshot not yet written: old snapshot plus both journals', async () => {
      await seed([1, 2]);
      const journal = new Journal(await createJournalFile(journalPath({ directory: temp.dir, name: 'list' }, 2), 2, undefined), 2);
      await journal.append(encodeBatch([Buffer.from('3')]), () => undefined);
      await journal.close();
      writeFileSync(join(temp.dir, '.list.snapshot.abcdef.tmp'), 'half a snapshot');
      const store = await open();
      assert.deepEqual(store.state, [1, 2, 3]);
      assert.ok(!existsSync(join(temp.dir, '.list.snapshot.abcdef.tmp')));
      await store.close();
    });

    it('snapshot written, old journal not yet deleted: the snapshot wins and the old journal goes', async () => {
      await seed([1, 2]);
      const layout = { directory: temp.dir, name: 'list' };
      const journal = new Journal(await createJournalFile(journalPath(layout, 2), 2, undefined), 2);
      await journal.append(encodeBatch([Buffer.from('3')]), () => undefined);
      await journal.close();
      await writeSnapshot(snapshotPath(layout), Buffer.from(JSON.stringify([1, 2])), { generation: 2, sequence: 2 });
      const store = await open();
      assert.deepEqual(store.state, [1, 2, 3]);
      assert.ok(!existsSync(journalPath(layout, 1)));
      await store.close();
    });
  });

  it('cuts a torn tail at every byte offset of the last record, keeping all earlier records', async () => {
    await seed([11, 22, 333333]);
    const path = journalPath({ directory: temp.dir, name: 'list' }, 1);
    const whole = readFileSync(path);
    const lastStart = whole.length - (16 + encodeBatch([Buffer.from('333333')]).length);
    for (let cut = lastStart; cut <= whole.length; cut++) {
      const dir = join(temp.dir, `cut-${cut}`);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir);
      writeFileSync(journalPath({ directory: dir, name: 'list' }, 1), whole.subarray(0, cut));
      events = [];
      const store = await open({}, dir);
      assert.deepEqual(store.state, cut === whole.length ? [11, 22, 333333] : [11, 22], `cut at ${cut}`);
      assert.equal(
        events.some((event) => event.type === 'journalTailCut'),
        cut > lastStart && cut < whole.length,
      );
      await store.commit([4]);
      await store.close();
      const again = await open({}, dir);
      assert.equal(again.state.at(-1), 4);
      await again.close();
    }
  });

  it('quarantines a journal damaged in the middle and opens with the records before the damage', async () => {
    await seed([1, 2, 3, 4]);
    const path = journalPath({ directory: temp.dir, name: 'list' }, 1);
    const bytes = readFileSync(path);
    const headerLength = bytes.length - 4 * (16 + encodeBatch([Buffer.from('1')]).length);
    const secondRecord = headerLength + 16 + encodeBatch([Buffer.from('1')]).length;
    bytes[secondRecord + 20] = (bytes[secondRecord + 20] as number) ^ 0x40;
    writeFileSync(path, bytes);
    const store = await open();
    assert.deepEqual(store.state, [1]);
    assert.ok(events.some((event) => event.type === 'quarantined' && event.reason === 'corruptJournal'));
    assert.equal(readdirSync(join(temp.dir, 'quarantine')).length, 1);
    assert.equal(store.metrics().corruptionCount, 1);
    await store.commit([5]);
    await store.close();
    assert.deepEqual(await reopened(), [1, 5]);
  });

  it('corrupt snapshot recovers from backup', async () => {
    const store = await open();
    for (const value of [1, 2, 3]) await store.commit([value]);
    const backup = await store.exportSnapshot();
    await store.commit([4]);
    await store.compact();
    await store.close();
    const snapshot = readFileSync(snapshotPath({ directory: temp.dir, name: 'list' }));
    snapshot[snapshot.length - 2] = (snapshot[snapshot.length - 2] as number) ^ 0xff;
    writeFileSync(snapshotPath({ directory: temp.dir, name: 'list' }), snapshot);
    // The previous generation (the empty state and journal 1) would repair it: take it away too.
    rmSync(journalPath({ directory: temp.dir, name: 'list' }, 1));
    const recovered = await open({ loadFallback: async () => backup });
    assert.deepEqual(recovered.state, [1, 2, 3]);
    assert.ok(events.some((event) => event.type === 'quarantined' && event.reason === 'corruptSnapshot'));
    assert.ok(events.some((event) => event.type === 'recoveredFromBackup'));
    // The snapshot, and journal 2, which followed the missing journal 1.
    assert.equal(readdirSync(join(temp.dir, 'quarantine')).length, 2);
    const lost = events.find((event) => event.type === 'dataLost');
    assert.ok(lost?.type === 'dataLost');
    assert.deepEqual([lost.cause, lost.fromSequence, lost.toSequence, lost.records], ['snapshotDamaged', 4, 4, 1]);
    await recovered.commit([9]);
    await recovered.close();
    events = [];
    const again = await open();
    assert.deepEqual(again.state, [1, 2, 3, 9]);
    assert.deepEqual(events, []);
    await again.close();
  });

  it('replays journal records newer than the backup after a snapshot is lost', async () => {
    const store = await open();
    await store.commit([1]);
    await store.compact();
    const backup = await store.exportSnapshot();
    await store.commit([2]);
    await store.close();
    writeFileSync(snapshotPath({ directory: temp.dir, name: 'list' }), 'garbage');
    const recovered = await open({ loadFallback: async () => backup });
    assert.deepEqual(recovered.state, [1, 2]);
    await recovered.close();
  });

  it('never resets silently: without a backup it reports the loss', async () => {
    await seed([1, 2]);
    const store = await open();
    await store.compact();
    await store.close();
    writeFileSync(snapshotPath({ directory: temp.dir, name: 'list' }), 'garbage');
    rmSync(journalPath({ directory: temp.dir, name: 'list' }, 1));
    const reopened = await open();
    assert.deepEqual(reopened.state, []);
    assert.ok(events.some((event) => event.type === 'stateLost'));
    await reopened.close();
  });

  it('missing key refuses to open, wrong key too, and neither quarantines nor re-creates', async () => {
    const cipher = testCipher();
    await seed([1, 2], { cipher });
    await assert.rejects(open(), (error) => StorageError.is(error, 'missingKey'));
    await assert.rejects(open({ cipher: testCipher() }), (error) => StorageError.is(error, 'wrongKey'));
    const store = await open({ cipher });
    await store.compact();
    await store.close();
    await assert.rejects(open(), (error) => StorageError.is(error, 'missingKey'));
    await assert.rejects(open({ cipher: testCipher() }), (error) => StorageError.is(error, 'wrongKey'));
    assert.ok(!existsSync(join(temp.dir, 'quarantine')));
    const right = await open({ cipher });
    assert.deepEqual(right.state, [1, 2]);
    await right.close();
  });

  it('writes encrypted and compressed snapshots that hold no plaintext', async () => {
    const cipher = testCipher();
    const store = await open({ cipher, compress: true });
    await store.commit([424242]);
    await store.compact();
    await store.commit([515151]);
    await store.close();
    for (const name of readdirSync(temp.dir).filter((entry) => entry.startsWith('list.'))) {
      const text = readFileSync(join(temp.dir, name)).toString('latin1');
      assert.ok(!text.includes('424242') && !text.includes('515151'), name);
    }
    const again = await open({ cipher, compress: true });
    assert.deepEqual(again.state, [424242, 515151]);
    await again.close();
  });

  it('restores a snapshot (replaceWith) that survives a reopen, and refuses a damaged one unchanged', async () => {
    const store = await open();
    await store.commit([1]);
    const backup = await store.exportSnapshot();
    await store.commit([2]);
    await assert.rejects(store.replaceWith(Buffer.from('not a snapshot')), (error) => StorageError.is(error, 'corruptSnapshot'));
    assert.deepEqual(store.state, [1, 2]);
    await store.replaceWith(backup);
    assert.deepEqual(store.state, [1]);
    await store.commit([3]);
    await store.close();
    assert.deepEqual(await reopened(), [1, 3]);
  });

  it('reports metrics and audits state-changing operations', async () => {
    const audit = new MemoryAuditLog();
    const store = await open({ audit });
    await store.commit([1]);
    await store.compact();
    const metrics = store.metrics();
    assert.equal(metrics.commits, 1);
    assert.ok(metrics.snapshotBytes > 0 && metrics.journalBytes > 0 && metrics.loadMs >= 0);
    assert.deepEqual(
      audit.entries.map((entry) => entry.action),
      ['open', 'compact'],
    );
    await store.close();
    await assert.rejects(store.commit([2]), (error) => StorageError.is(error, 'closed'));
  });

  it('refuses a second open of the same store in one process with locked', async () => {
    const store = await open();
    await assert.rejects(open(), (error) => StorageError.is(error, 'locked'));
    await store.close();
    const again = await open();
    await again.close();
  });
});
