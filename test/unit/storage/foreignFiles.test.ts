import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { journalPath, snapshotPath } from '../../../src/core/storage/durableRecovery';
import { DurableStore } from '../../../src/core/storage/durableStore';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import { decodeManifest, encodeManifest, manifestPath } from '../../../src/core/storage/storeManifest';
import { listCodec, makeTempDir } from './storageTestKit';

/**
 * The files a process crash leaves, and files that are not ours: the ack mark names the exact
 * acknowledged end after a crash; the manifest's checksums tell our snapshot and journal from
 * another store's valid ones copied over them (a sync tool, a folder copied between machines).
 */
describe('storage: ack mark and files of another store', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let events: StorageEvent[];
  beforeEach(() => {
    temp = makeTempDir();
    events = [];
  });
  afterEach(() => temp.cleanup());

  const ours = (): string => join(temp.dir, 'ours');
  const theirs = (): string => join(temp.dir, 'theirs');
  const open = (directory: string): Promise<DurableStore<number[], number>> =>
    DurableStore.open({ directory, name: 'list', codec: listCodec, compaction: false, onEvent: (event) => events.push(event) });

  /** Commits `values`, compacting after each index in `compactAfter`; closes cleanly. */
  async function seed(directory: string, values: number[], compactAfter: number[] = []): Promise<void> {
    mkdirSync(directory, { recursive: true });
    const store = await open(directory);
    for (const [index, value] of values.entries()) {
      await store.commit([value]);
      if (compactAfter.includes(index)) await store.compact();
    }
    await store.close();
  }

  async function reopen(directory: string): Promise<{ state: number[]; lost: Extract<StorageEvent, { type: 'dataLost' }> | undefined }> {
    events = [];
    const store = await open(directory);
    const state = [...store.state];
    await store.close();
    return { state, lost: events.find((event): event is Extract<StorageEvent, { type: 'dataLost' }> => event.type === 'dataLost') };
  }

  /** As a crash of the process leaves it: the manifest's last advance at `records` of journal 1 (the ack mark is current). */
  function manifestAdvancedTo(directory: string, records: number, recordBytes: number, headerBytes: number): void {
    const layout = { directory, name: 'list' };
    const manifest = decodeManifest(readFileSync(manifestPath(layout)));
    assert.ok(typeof manifest !== 'string');
    const bytes = readFileSync(journalPath(layout, 1));
    const end = headerBytes + records * recordBytes;
    const journals = [{ generation: 1, sequence: records, bytes: end, crc: crc32(bytes.subarray(0, end)) }];
    writeFileSync(manifestPath(layout), encodeManifest({ ...manifest, clean: false, journals }));
  }

  it('after a crash of the process, a journal cut at a record boundary past the manifest’s last advance is damage (the ack mark knew)', async () => {
    await seed(ours(), [1, 2, 3, 4, 5]);
    const path = journalPath({ directory: ours(), name: 'list' }, 1);
    const whole = readFileSync(path);
    const recordBytes = (whole.length - 21) / 5;
    manifestAdvancedTo(ours(), 2, recordBytes, 21);
    writeFileSync(path, whole.subarray(0, 21 + 4 * recordBytes)); // record 5 gone, cleanly at a boundary
    const { state, lost } = await reopen(ours());
    assert.deepEqual(state, [1, 2, 3, 4]);
    assert.ok(lost, `a loss is reported, got ${events.map((event) => event.type).join(', ')}`);
    assert.equal(lost.fromSequence, 5);
  });

  it('a snapshot of another store copied over ours is not taken for ours', async () => {
    await seed(ours(), [1, 2, 3, 4, 5, 6], [2, 4]);
    await seed(theirs(), [11, 12, 13, 14, 15, 16], [2, 4]);
    copyFileSync(snapshotPath({ directory: theirs(), name: 'list' }), snapshotPath({ directory: ours(), name: 'list' }));
    const { state, lost } = await reopen(ours());
    assert.deepEqual(state, [1, 2, 3, 4, 5, 6], 'repaired from our previous generation');
    assert.equal(lost, undefined);
    assert.ok(events.some((event) => event.type === 'repaired'));
  });

  it('a journal of another store copied over ours replays none of its records, and the loss is reported', async () => {
    await seed(ours(), [1, 2, 3, 4, 5]);
    await seed(theirs(), [11, 12, 13]); // shorter: looks like our journal cut short
    copyFileSync(journalPath({ directory: theirs(), name: 'list' }, 1), journalPath({ directory: ours(), name: 'list' }, 1));
    const { state, lost } = await reopen(ours());
    assert.deepEqual(state, [], 'not one of their records');
    assert.ok(lost, 'the loss is reported');
    assert.equal(lost.fromSequence, 1);
  });
});
