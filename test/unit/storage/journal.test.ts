import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createJournalFile, createJournalFileSync, Journal } from '../../../src/core/storage/journal';
import { StorageError } from '../../../src/core/storage/errors';
import { toStorageError } from '../../../src/core/storage/storageIo';
import { decodeBatch, encodeBatch, encodeFrame, encodeJournalHeader, scanJournal } from '../../../src/core/storage/journalFormat';
import { makeTempDir } from './storageTestKit';

function journalBytes(payloads: string[], firstSequence = 1): Buffer {
  return Buffer.concat([
    encodeJournalHeader(1, undefined),
    ...payloads.map((payload, index) => encodeFrame(firstSequence + index, Buffer.from(payload))),
  ]);
}

describe('storage: journal format', () => {
  it('scans the records it framed', () => {
    const scan = scanJournal(journalBytes(['a', 'bb', 'ccc']));
    assert.ok(typeof scan.header === 'object');
    if (typeof scan.header !== 'object' || !('records' in scan)) return;
    assert.deepEqual(
      scan.records.map((record) => [record.sequence, Buffer.from(record.payload).toString()]),
      [
        [1, 'a'],
        [2, 'bb'],
        [3, 'ccc'],
      ],
    );
    assert.equal(scan.damage, undefined);
  });

  it('treats a file cut inside its header as torn, and a foreign file as corrupt', () => {
    const header = encodeJournalHeader(1, 'abcd');
    for (let length = 0; length < header.length; length++) {
      assert.equal(scanJournal(header.subarray(0, length)).header, 'torn', `cut at ${length}`);
    }
    assert.equal(scanJournal(Buffer.from('hello world, not a journal')).header, 'corrupt');
    const flipped = Buffer.from(header);
    flipped[13] = (flipped[13] as number) ^ 1;
    assert.equal(scanJournal(flipped).header, 'corrupt');
  });

  it('cut at every byte offset of its last record, keeps every earlier record and reports a tail', () => {
    const whole = journalBytes(['first', 'second', 'the last record, somewhat longer']);
    const lastStart = whole.length - (16 + 'the last record, somewhat longer'.length);
    for (let cut = lastStart; cut < whole.length; cut++) {
      const scan = scanJournal(whole.subarray(0, cut));
      assert.ok('records' in scan);
      if (!('records' in scan)) return;
      assert.deepEqual(
        scan.records.map((record) => record.sequence),
        [1, 2],
        `cut at ${cut}`,
      );
      assert.equal(scan.validLength, lastStart);
      if (cut > lastStart) assert.equal(scan.damage?.kind, 'tail');
    }
  });

  it('tells a damaged middle record (valid records after it) from a torn tail', () => {
    const whole = journalBytes(['one', 'two', 'three']);
    const damaged = Buffer.from(whole);
    const secondPayload = encodeJournalHeader(1, undefined).length + 16 + 3 + 16;
    damaged[secondPayload] = (damaged[secondPayload] as number) ^ 0xff;
    const scan = scanJournal(damaged);
    assert.ok('records' in scan && scan.damage);
    if (!('records' in scan)) return;
    assert.equal(scan.damage?.kind, 'middle');
    assert.equal(scan.damage?.droppedCompleteRecord, true);
    assert.deepEqual(
      scan.records.map((record) => record.sequence),
      [1],
    );

    const lastDamaged = Buffer.from(whole);
    lastDamaged[whole.length - 1] = (lastDamaged[whole.length - 1] as number) ^ 1;
    const tail = scanJournal(lastDamaged);
    assert.ok('records' in tail);
    if (!('records' in tail)) return;
    assert.equal(tail.damage?.kind, 'tail');
    assert.equal(tail.damage?.droppedCompleteRecord, true);
  });

  it('treats a sequence that does not follow on as damage', () => {
    const bytes = Buffer.concat([encodeJournalHeader(1, undefined), encodeFrame(1, Buffer.from('a')), encodeFrame(3, Buffer.from('b'))]);
    const scan = scanJournal(bytes);
    assert.ok('records' in scan);
    if (!('records' in scan)) return;
    assert.deepEqual(
      scan.records.map((record) => record.sequence),
      [1],
    );
    assert.ok(scan.damage);
  });

  it('round-trips a batch and refuses a malformed one', () => {
    const parts = [Buffer.from('x'), Buffer.alloc(0), Buffer.from('yz')];
    assert.deepEqual(
      decodeBatch(encodeBatch(parts)).map((part) => part.toString()),
      ['x', '', 'yz'],
    );
    assert.throws(() => decodeBatch(Buffer.from([5, 0, 0, 0, 1])));
  });
});

describe('storage: journal writer', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => temp.cleanup());

  it('groups concurrent commits into few syncs and acknowledges in order', async () => {
    const path = join(temp.dir, 'j.00000001.journal');
    const file = await createJournalFile(path, 1, undefined);
    let syncs = 0;
    const datasync = file.handle.datasync.bind(file.handle);
    file.handle.datasync = () => {
      syncs++;
      return datasync();
    };
    const journal = new Journal(file, 0);
    const order: number[] = [];
    const writes = Array.from({ length: 50 }, (_, index) => journal.append(Buffer.from(`r${index}`), (sequence) => order.push(sequence)));
    await Promise.all(writes);
    await journal.close();
    assert.deepEqual(
      order,
      Array.from({ length: 50 }, (_, index) => index + 1),
    );
    assert.ok(syncs <= 3, `50 concurrent commits took ${syncs} syncs`);
    const scan = scanJournal(readFileSync(path));
    assert.ok('records' in scan);
    if ('records' in scan) assert.equal(scan.records.length, 50);
  });

  it('says a record is written once another reader sees it in the file, before its sync, and acknowledges it only after the sync', async () => {
    const path = join(temp.dir, 'j.00000001.journal');
    const file = await createJournalFile(path, 1, undefined);
    const steps: string[] = [];
    const datasync = file.handle.datasync.bind(file.handle);
    file.handle.datasync = () => {
      steps.push('sync');
      return datasync();
    };
    const journal = new Journal(file, 0);
    const durable = journal.append(
      Buffer.from('the start record'),
      () => steps.push('durable'),
      () => {
        const scan = scanJournal(readFileSync(path));
        steps.push('records' in scan && scan.records.length === 1 ? 'written, readable' : 'written, not readable');
      },
    );
    await durable;
    assert.deepEqual(steps, ['written, readable', 'sync', 'durable']);
    // A failing listener does not stop the record from reaching the disk.
    await journal.append(
      Buffer.from('next'),
      () => steps.push('durable again'),
      () => {
        throw new Error('listener failed');
      },
    );
    assert.equal(steps.at(-1), 'durable again');
    await journal.close();
  });

  describe('writing on the calling thread', () => {
    /** A journal whose syncs wait until the test lets each one go (or fail). */
    async function gatedJournal(
      name: string,
    ): Promise<{ journal: Journal; path: string; syncs: { release: () => void; fail: (error: Error) => void }[] }> {
      const path = join(temp.dir, name);
      const file = createJournalFileSync(path, 1, undefined);
      const syncs: { release: () => void; fail: (error: Error) => void }[] = [];
      const datasync = file.handle.datasync.bind(file.handle);
      file.handle.datasync = () =>
        new Promise<void>((resolve, reject) => {
          syncs.push({ release: () => void datasync().then(resolve, reject), fail: reject });
        });
      return { journal: new Journal(file, 0, { writeOnCallingThread: true }), path, syncs };
    }
    const recordsIn = (path: string): string[] => {
      const scan = scanJournal(readFileSync(path));
      return 'records' in scan ? scan.records.map((record) => Buffer.from(record.payload).toString()) : [];
    };
    const until = async (condition: () => boolean): Promise<void> => {
      // Released syncs are real fdatasyncs: wait in time, not in turns.
      const deadline = Date.now() + 5000;
      while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
      assert.ok(condition());
    };

    it('writes a record made while an earlier sync runs into the file at once, and acknowledges both in order once each is synced', async () => {
      const { journal, path, syncs } = await gatedJournal('ahead.journal');
      const acknowledged: string[] = [];
      const first = journal.append(Buffer.from('first'), () => acknowledged.push('first'));
      journal.flushNow();
      await until(() => syncs.length === 1);
      let secondWritten = false;
      const second = journal.append(
        Buffer.from('second'),
        () => acknowledged.push('second'),
        () => (secondWritten = true),
      );
      journal.flushNow();
      assert.equal(secondWritten, true, 'written while the first sync is still running');
      assert.deepEqual(recordsIn(path), ['first', 'second']);
      assert.deepEqual([...acknowledged], []);
      syncs[0]?.release();
      await first;
      assert.deepEqual([...acknowledged], ['first'], 'the second waits for a sync of its own');
      await until(() => syncs.length === 2);
      syncs[1]?.release();
      await second;
      assert.deepEqual([...acknowledged], ['first', 'second']);
      // Appends made in a later turn while a sync runs go out at that turn's end, unasked.
      const third = journal.append(Buffer.from('third'), () => acknowledged.push('third'));
      await until(() => syncs.length === 3);
      const fourth = journal.append(Buffer.from('fourth'), () => acknowledged.push('fourth'));
      await until(() => recordsIn(path).length === 4);
      syncs[2]?.release();
      await until(() => syncs.length === 4);
      syncs[3]?.release();
      await Promise.all([third, fourth]);
      assert.deepEqual(acknowledged, ['first', 'second', 'third', 'fourth']);
      await journal.close();
      assert.deepEqual(recordsIn(path), ['first', 'second', 'third', 'fourth']);
    });

    it('a failed sync cuts the records written ahead of their turn with it: none is acknowledged, and the next commit succeeds', async () => {
      const { journal, path, syncs } = await gatedJournal('cut.journal');
      await Promise.all([
        journal.append(Buffer.from('kept'), () => undefined),
        (async () => {
          await until(() => syncs.length === 1);
          syncs[0]?.release();
        })(),
      ]);
      const failing = journal.append(Buffer.from('lost'), () => assert.fail('never acknowledged'));
      journal.flushNow();
      await until(() => syncs.length === 2);
      const ahead = journal.append(Buffer.from('lost too'), () => assert.fail('never acknowledged'));
      journal.flushNow();
      assert.deepEqual(recordsIn(path), ['kept', 'lost', 'lost too']);
      syncs[1]?.fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      // The cut is synced before anyone hears of the failure.
      await until(() => syncs.length === 3);
      assert.deepEqual(recordsIn(path), ['kept'], 'cut back to the last acknowledged record');
      syncs[2]?.release();
      await assert.rejects(failing, (error: unknown) => StorageError.is(error));
      await assert.rejects(ahead, (error: unknown) => StorageError.is(error));
      const next = journal.append(Buffer.from('next'), () => undefined);
      await until(() => syncs.length === 4);
      syncs[3]?.release();
      await next;
      await journal.close();
      assert.deepEqual(recordsIn(path), ['kept', 'next']);
    });
  });

  it('rotates between batches, continuing the sequence in the next file', async () => {
    const first = join(temp.dir, 'j.00000001.journal');
    const second = join(temp.dir, 'j.00000002.journal');
    const journal = new Journal(await createJournalFile(first, 1, undefined), 0);
    const sequences: number[] = [];
    const a = journal.append(Buffer.from('a'), (sequence) => sequences.push(sequence));
    let switchedAfter = -1;
    const rotation = journal.rotate(await createJournalFile(second, 2, undefined), () => {
      switchedAfter = sequences.length;
    });
    const b = journal.append(Buffer.from('b'), (sequence) => sequences.push(sequence));
    await Promise.all([a, rotation, b]);
    await journal.close();
    assert.equal(switchedAfter, 1);
    assert.deepEqual(sequences, [1, 2]);
    const scanned = scanJournal(readFileSync(second));
    assert.ok('records' in scanned);
    if ('records' in scanned) {
      assert.deepEqual(
        scanned.records.map((record) => record.sequence),
        [2],
      );
    }
  });

  it('cuts a partly written batch back after a failed write or sync, and the next commit succeeds', async () => {
    const path = join(temp.dir, 'j.00000001.journal');
    const file = await createJournalFile(path, 1, undefined);
    const journal = new Journal(file, 0);
    await journal.append(Buffer.from('kept'), () => undefined);
    const sizeBefore = readFileSync(path).length;
    const write = file.handle.write.bind(file.handle) as (...args: unknown[]) => Promise<{ bytesWritten: number }>;
    const datasync = file.handle.datasync.bind(file.handle);
    let failure: 'write' | 'sync' | undefined = 'write';
    (file.handle as unknown as { write: unknown }).write = async (data: Uint8Array, offset: number, length: number, position: number) => {
      if (failure !== 'write') return write(data, offset, length, position);
      await write(data, offset, Math.floor(length / 2), position); // half of it reaches the file
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    file.handle.datasync = async () => {
      if (failure === 'sync') {
        failure = undefined;
        throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      }
      return datasync();
    };
    const applied: number[] = [];
    await assert.rejects(
      journal.append(Buffer.from('lost to a full disk'), (sequence) => applied.push(sequence)),
      (error) => StorageError.is(error, 'diskFull'),
    );
    assert.equal(readFileSync(path).length, sizeBefore);
    failure = 'sync';
    await assert.rejects(
      journal.append(Buffer.from('lost to a failing device'), (sequence) => applied.push(sequence)),
      (error) => StorageError.is(error, 'ioError'),
    );
    assert.equal(readFileSync(path).length, sizeBefore);
    await journal.append(Buffer.from('after'), (sequence) => applied.push(sequence));
    await journal.close();
    assert.deepEqual(applied, [2]);
    const scan = scanJournal(readFileSync(path));
    assert.ok('records' in scan);
    if (!('records' in scan)) return;
    assert.equal(scan.damage, undefined);
    assert.deepEqual(
      scan.records.map((record) => Buffer.from(record.payload).toString()),
      ['kept', 'after'],
    );
  });

  it('maps file-system errors to the StorageError reasons a caller acts on', () => {
    const reason = (code: string): string => toStorageError(Object.assign(new Error(code), { code }), 'save').reason;
    assert.deepEqual(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EIO'].map(reason), [
      'diskFull',
      'diskFull',
      'permissionDenied',
      'permissionDenied',
      'permissionDenied',
      'ioError',
    ]);
  });
});
