import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ackMarkPath } from '../../../src/core/storage/ackMark';
import { journalPath, snapshotPath } from '../../../src/core/storage/durableRecovery';
import type { DurableStoreOptions } from '../../../src/core/storage/durableStore';
import { DurableStore } from '../../../src/core/storage/durableStore';
import { createJournalFile, Journal } from '../../../src/core/storage/journal';
import { encodeBatch } from '../../../src/core/storage/journalFormat';
import { boundQuarantine } from '../../../src/core/storage/storageIo';
import type { StorageEvent } from '../../../src/core/storage/storeEvents';
import type { StoreManifest } from '../../../src/core/storage/storeManifest';
import { decodeManifest, encodeManifest, manifestPath } from '../../../src/core/storage/storeManifest';
import { listCodec, makeTempDir } from './storageTestKit';

/** Bytes of the journal header of a plain store, and of one record holding a one-digit number. */
const HEADER = 21;
const RECORD = 16 + encodeBatch([Buffer.from('1')]).length;

describe('storage: manifest (acknowledged end, torn tail vs damage, previous generation)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let events: StorageEvent[];
  const layout = (): { directory: string; name: string } => ({ directory: temp.dir, name: 'list' });
  beforeEach(() => {
    temp = makeTempDir();
    events = [];
  });
  afterEach(() => temp.cleanup());

  const open = (extra: Partial<DurableStoreOptions<number[], number>> = {}): Promise<DurableStore<number[], number>> =>
    DurableStore.open({
      directory: temp.dir,
      name: 'list',
      codec: listCodec,
      compaction: false,
      onEvent: (event) => events.push(event),
      ...extra,
    });

  async function seed(values: number[]): Promise<void> {
    const store = await open();
    for (const value of values) await store.commit([value]);
    await store.close();
    events = [];
  }

  /** Opens, returns the state and the events of that open, and closes. */
  async function reopen(): Promise<{ state: number[]; types: string[]; lost: Extract<StorageEvent, { type: 'dataLost' }> | undefined }> {
    events = [];
    const store = await open();
    const state = [...store.state];
    await store.close();
    const lost = events.find((event): event is Extract<StorageEvent, { type: 'dataLost' }> => event.type === 'dataLost');
    return { state, types: events.map((event) => event.type), lost };
  }

  function readManifestFile(): StoreManifest {
    const manifest = decodeManifest(readFileSync(manifestPath(layout())));
    assert.ok(typeof manifest !== 'string', `manifest: ${String(manifest)}`);
    return manifest;
  }

  /** As a crash leaves it: not clean, the last advance having reached `records` records of journal 1. */
  function crashedAfterAdvanceTo(records: number): void {
    const bytes = readFileSync(journalPath(layout(), 1));
    const end = HEADER + records * RECORD;
    const manifest = readManifestFile();
    const journals = [{ generation: 1, sequence: records, bytes: end, crc: crc32(bytes.subarray(0, end)) }];
    writeFileSync(manifestPath(layout()), encodeManifest({ ...manifest, clean: false, journals }));
    // And as a power cut leaves it: the ack mark (never synced) did not reach the disk.
    rmSync(ackMarkPath(layout()), { force: true });
  }

  it('a clean close records the end, the clean flag and the time; an open marks it not clean', async () => {
    await seed([1, 2, 3]);
    const manifest = readManifestFile();
    assert.equal(manifest.clean, true);
    assert.deepEqual(
      manifest.journals.map((end) => [end.generation, end.sequence, end.bytes]),
      [[1, 3, HEADER + 3 * RECORD]],
    );
    assert.equal(manifest.advances.at(-1)?.sequence, 3);
    const store = await open();
    assert.equal(readManifestFile().clean, false);
    await store.close();
    assert.equal(readManifestFile().clean, true);
  });

  it('a deleted journal is reported with every record it held', async () => {
    await seed([1, 2, 3, 4, 5]);
    rmSync(journalPath(layout(), 1));
    const { state, types, lost } = await reopen();
    assert.deepEqual(state, []);
    assert.deepEqual(types, ['dataLost']);
    assert.deepEqual([lost?.cause, lost?.fromSequence, lost?.toSequence, lost?.records], ['journalMissing', 1, 5, 5]);
    assert.ok(lost?.acknowledgedBetween && lost.acknowledgedBetween.from <= lost.acknowledgedBetween.to);
    assert.deepEqual((await reopen()).types, [], 'reported once');
  });

  it('a journal emptied to 0 bytes is damage, not a torn header', async () => {
    await seed([1, 2, 3, 4, 5]);
    writeFileSync(journalPath(layout(), 1), Buffer.alloc(0));
    const { state, types, lost } = await reopen();
    assert.deepEqual(state, []);
    assert.deepEqual(types, ['quarantined', 'dataLost']);
    assert.deepEqual([lost?.cause, lost?.fromSequence, lost?.toSequence, lost?.records], ['journalEmptied', 1, 5, 5]);
  });

  it('after a clean close a cut at or inside any record is damage that names every record lost', async () => {
    await seed([1, 2, 3, 4, 5]);
    const whole = readFileSync(journalPath(layout(), 1));
    const manifest = readFileSync(manifestPath(layout()));
    const cuts: number[] = [];
    for (let record = 0; record < 5; record++) cuts.push(HEADER + record * RECORD, HEADER + record * RECORD + 7);
    cuts.push(whole.length - 1);
    for (const cut of cuts) {
      rmSync(join(temp.dir, 'quarantine'), { recursive: true, force: true });
      for (const file of readdirSync(temp.dir)) rmSync(join(temp.dir, file));
      writeFileSync(journalPath(layout(), 1), whole.subarray(0, cut));
      writeFileSync(manifestPath(layout()), manifest);
      const kept = Math.max(0, Math.floor((cut - HEADER) / RECORD));
      const { state, types, lost } = await reopen();
      assert.deepEqual(state, [1, 2, 3, 4, 5].slice(0, kept), `cut at ${cut}`);
      assert.deepEqual(types, ['quarantined', 'dataLost'], `cut at ${cut}`);
      assert.deepEqual(
        [lost?.cause, lost?.fromSequence, lost?.toSequence, lost?.records],
        ['journalCut', kept + 1, 5, 5 - kept],
        `cut at ${cut}`,
      );
      assert.deepEqual(
        readFileSync(join(temp.dir, 'quarantine', readdirSync(join(temp.dir, 'quarantine'))[0] as string)),
        whole.subarray(0, cut),
      );
    }
  });

  it('after a crash a cut inside the batch past the acknowledged end is a torn tail; the cut bytes are kept', async () => {
    await seed([1, 2, 3, 4, 5]);
    crashedAfterAdvanceTo(4);
    const whole = readFileSync(journalPath(layout(), 1));
    writeFileSync(journalPath(layout(), 1), whole.subarray(0, whole.length - 5));
    const { state, types } = await reopen();
    assert.deepEqual(state, [1, 2, 3, 4]);
    assert.deepEqual(types, ['journalTailCut']);
    const [copy] = readdirSync(join(temp.dir, 'quarantine'));
    assert.deepEqual(readFileSync(join(temp.dir, 'quarantine', copy as string)), whole.subarray(HEADER + 4 * RECORD, whole.length - 5));
  });

  it('after a crash a cut before the acknowledged end is damage, with the end of the loss unknown', async () => {
    await seed([1, 2, 3, 4, 5]);
    crashedAfterAdvanceTo(4);
    const whole = readFileSync(journalPath(layout(), 1));
    writeFileSync(journalPath(layout(), 1), whole.subarray(0, HEADER + 3 * RECORD + 3));
    const { state, types, lost } = await reopen();
    assert.deepEqual(state, [1, 2, 3]);
    assert.deepEqual(types, ['quarantined', 'dataLost']);
    assert.deepEqual([lost?.cause, lost?.fromSequence, lost?.toSequence, lost?.records], ['journalCut', 4, undefined, undefined]);
  });

  it('bytes appended after a clean close are cut (a copy kept) and nothing is lost', async () => {
    await seed([1, 2, 3]);
    const path = journalPath(layout(), 1);
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('garbage after the end')]));
    const { state, types } = await reopen();
    assert.deepEqual(state, [1, 2, 3]);
    assert.deepEqual(types, ['journalTailCut', 'repaired']);
  });

  async function twoGenerations(): Promise<void> {
    const store = await open();
    for (const value of [1, 2, 3]) await store.commit([value]);
    await store.compact();
    for (const value of [4, 5]) await store.commit([value]);
    await store.compact();
    await store.commit([6]);
    await store.close();
    events = [];
  }

  it('a damaged snapshot is repaired from the previous generation with nothing lost', async () => {
    await twoGenerations();
    const path = snapshotPath(layout());
    const bytes = readFileSync(path);
    bytes[bytes.length - 2] = (bytes[bytes.length - 2] as number) ^ 0xff;
    writeFileSync(path, bytes);
    const { state, types } = await reopen();
    assert.deepEqual(state, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(types, ['quarantined', 'repaired']);
    const repaired = events.find((event) => event.type === 'repaired');
    assert.equal(repaired?.type === 'repaired' ? repaired.cause : undefined, 'snapshotDamaged');
    assert.deepEqual(await reopen(), { state: [1, 2, 3, 4, 5, 6], types: [], lost: undefined });
  });

  it('a deleted snapshot is repaired from the previous generation with nothing lost', async () => {
    await twoGenerations();
    rmSync(snapshotPath(layout()));
    const { state, types } = await reopen();
    assert.deepEqual(state, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(types, ['repaired']);
  });

  it('a compaction stopped after moving the snapshot aside opens as if nothing happened', async () => {
    await twoGenerations();
    renameSync(snapshotPath(layout()), join(temp.dir, 'list.snapshot.previous'));
    assert.deepEqual(await reopen(), { state: [1, 2, 3, 4, 5, 6], types: [], lost: undefined });
    assert.ok(existsSync(snapshotPath(layout())));
  });

  it('a damaged manifest is set aside and reported, and rebuilt', async () => {
    await seed([1, 2, 3]);
    writeFileSync(manifestPath(layout()), readFileSync(manifestPath(layout()), 'utf8').replace('"clean":true', '"clean":false'));
    const { state, types, lost } = await reopen();
    assert.deepEqual(state, [1, 2, 3]);
    assert.deepEqual(types, ['quarantined', 'dataLost']);
    assert.deepEqual([lost?.cause, lost?.fromSequence, lost?.toSequence], ['manifestDamaged', 4, undefined]);
    assert.deepEqual((await reopen()).types, []);
  });

  it('a missing manifest of a store that keeps one is reported, and rebuilt', async () => {
    await seed([1, 2, 3]);
    rmSync(manifestPath(layout()));
    const { state, types, lost } = await reopen();
    assert.deepEqual(state, [1, 2, 3]);
    assert.deepEqual(types, ['dataLost']);
    assert.deepEqual([lost?.cause, lost?.fromSequence, lost?.toSequence], ['manifestMissing', 4, undefined]);
    assert.deepEqual((await reopen()).types, []);
  });

  it('a store written before manifests opens as before (a cut looks torn), then gets a manifest', async () => {
    const journal = new Journal(await createJournalFile(journalPath(layout(), 1), 1, undefined), 0);
    for (const value of [1, 2, 3]) await journal.append(encodeBatch([Buffer.from(String(value))]), () => undefined);
    await journal.close();
    const path = journalPath(layout(), 1);
    writeFileSync(path, readFileSync(path).subarray(0, HEADER + 2 * RECORD + 4));
    const { state, types } = await reopen();
    assert.deepEqual(state, [1, 2]);
    assert.deepEqual(types, ['journalTailCut']);
    assert.equal(readManifestFile().clean, true);
    rmSync(path);
    const after = await reopen();
    assert.deepEqual([after.state, after.types, after.lost?.cause], [[], ['dataLost'], 'journalMissing']);
  });
});

describe('storage: quarantine bound', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.cleanup());

  it('keeps the newest files within the bound, and always the one just added', async () => {
    const dir = join(temp.dir, 'quarantine');
    mkdirSync(dir);
    for (const [index, name] of ['a', 'b', 'c'].entries()) {
      writeFileSync(join(dir, name), Buffer.alloc(100));
      utimesSync(join(dir, name), 1000 + index, 1000 + index);
    }
    await boundQuarantine(dir, join(dir, 'c'), 250);
    assert.deepEqual(readdirSync(dir).sort(), ['b', 'c']);
    writeFileSync(join(dir, 'huge'), Buffer.alloc(1000));
    await boundQuarantine(dir, join(dir, 'huge'), 250);
    assert.deepEqual(readdirSync(dir), ['huge']);
  });
});
