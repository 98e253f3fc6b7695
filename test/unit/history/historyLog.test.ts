import * as assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileHistoryLog } from '../../../src/core/history/fileHistoryLog';
import { HistoryError } from '../../../src/core/history/historyErrors';
import type { HistoryRecord } from '../../../src/core/history/historyLog';
import { MemoryHistoryLog } from '../../../src/core/history/historyLog';
import { parseEntry } from '../../../src/core/history/historyEntry';
import { makeEntry, tempDir } from './historyFixtures';

const add = (seq: number): HistoryRecord => ({ t: 'add', seq, entry: parseEntry(makeEntry(seq)) });

describe('history log', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('log')));
  afterEach(() => dir.remove());

  it('group-commits concurrent appends and replays them in order', async () => {
    const log = new FileHistoryLog(dir.path);
    await Promise.all([1, 2, 3, 4, 5].map((seq) => log.append([add(seq)])));
    const { records, damage } = await new FileHistoryLog(dir.path).replay();
    assert.deepEqual(records.map((r) => r.seq), [1, 2, 3, 4, 5]);
    assert.equal(damage, undefined);
    await log.close();
  });

  it('cuts a torn tail back to the last good record and says so', async () => {
    const log = new FileHistoryLog(dir.path);
    await log.append([add(1), add(2)]);
    await log.close();
    appendFileSync(join(dir.path, 'history.journal'), '0badc0de {"t":"add","seq":3,');
    const { records, damage } = await new FileHistoryLog(dir.path).replay();
    assert.deepEqual(records.map((r) => r.seq), [1, 2]);
    assert.equal(damage?.kind, 'tornTail');
    assert.equal(readFileSync(join(dir.path, 'history.journal'), 'utf8').split('\n').filter(Boolean).length, 2);
  });

  it('quarantines a journal damaged in the middle and keeps the records before the damage', async () => {
    const log = new FileHistoryLog(dir.path);
    await log.append([add(1), add(2), add(3)]);
    await log.close();
    const path = join(dir.path, 'history.journal');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = (lines[1] ?? '').replace('job-', 'jab-');
    writeFileSync(path, lines.join('\n'));
    const { records, damage } = await new FileHistoryLog(dir.path).replay();
    assert.deepEqual(records.map((r) => r.seq), [1]);
    assert.equal(damage?.kind, 'corrupt');
    assert.equal(damage?.kind === 'corrupt' && damage.lostRecords, 2);
    assert.equal(readdirSync(join(dir.path, 'quarantine')).length, 1);
  });

  it('writes the image atomically with a checksum and refuses a damaged one', async () => {
    const log = new FileHistoryLog(dir.path);
    await log.writeImage(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...((await log.readImage()) ?? [])], [1, 2, 3]);
    const path = join(dir.path, 'history.image');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = 9;
    writeFileSync(path, bytes);
    await assert.rejects(log.readImage(), (error) => HistoryError.is(error, 'corruptActive'));
    await log.quarantineImage('test');
    assert.equal(existsSync(path), false);
    assert.equal(await log.readImage(), undefined);
  });

  it('truncates only records the image holds', async () => {
    const log = new FileHistoryLog(dir.path);
    await log.append([add(1), add(2), add(3)]);
    await log.truncate(2);
    await log.append([add(4)]);
    assert.deepEqual((await log.replay()).records.map((r) => r.seq), [3, 4]);
    assert.ok(statSync(join(dir.path, 'history.journal')).size > 0);
    await log.close();
  });

  it('has an in-memory twin with the same contract', async () => {
    const log = new MemoryHistoryLog();
    await log.append([add(1), add(2)]);
    await log.writeImage(new Uint8Array([7]));
    await log.truncate(1);
    assert.deepEqual((await log.replay()).records.map((r) => r.seq), [2]);
    assert.deepEqual([...((await log.readImage()) ?? [])], [7]);
  });
});
