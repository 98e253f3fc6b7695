import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournalFileSync, Journal } from '../../../src/core/storage/journal';
import { scanJournal } from '../../../src/core/storage/journalFormat';
import { checkJobJournal, readJobJournal } from '../../../src/core/supervisors/journalCheck';
import type { JobRecord } from '../../../src/shared/supervisor/supervisorWire';

type Unstamped = JobRecord extends infer T ? (T extends JobRecord ? Omit<T, 'at'> : never) : never;

const jobId = 'job-a';
const expected = { jobId, attempt: 1, queueSawStart: true };

/** A run as JobExecution records it: started, a stage with progress, and (when finished) its exit. */
function runRecords(of: string, finished: boolean): Unstamped[] {
  const supervisor = { pid: 4242, startTime: 'boot', host: 'test' };
  const records: Unstamped[] = [
    { t: 'started', jobId: of, attempt: 1, supervisor, socketPath: '/tmp/lifeline-test.sock', fromStage: 0 },
    { t: 'stageStarted', stage: 0, process: { pid: 5000, host: 'test' } },
    { t: 'progress', fraction: 0.5, message: 'half' },
    { t: 'heartbeat' },
    { t: 'stageFinished', stage: 0, exitCode: 0, signal: null },
  ];
  if (finished) records.push({ t: 'exited', exitCode: 0, signal: null });
  return records;
}

describe("supervisor: reading a job's journal says what it lost (#16)", () => {
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'lifeline-journal-read-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  /** Writes a journal the way JobExecution does; returns its path and where each frame starts. */
  async function written(finished: boolean, of = jobId): Promise<{ path: string; starts: number[] }> {
    const path = join(directory, `${of}.1.journal`);
    const journal = new Journal(createJournalFileSync(path, 1, undefined), 0, { writeOnCallingThread: true });
    let at = 1_000;
    for (const record of runRecords(of, finished)) {
      await journal.append(Buffer.from(JSON.stringify({ ...record, at: (at += 10) })), () => undefined);
    }
    await journal.close();
    return { path, starts: frameStarts(readFileSync(path)) };
  }

  function frameStarts(bytes: Buffer): number[] {
    const scan = scanJournal(bytes);
    assert.ok(typeof scan.header === 'object');
    const starts: number[] = [];
    let offset = scan.header.byteLength;
    for (let index = 0; index < scan.records.length; index++) {
      starts.push(offset);
      offset += 16 + bytes.readUInt32LE(offset);
    }
    return starts;
  }

  function flipAt(path: string, offset: number): void {
    const bytes = readFileSync(path);
    bytes[offset] = (bytes[offset] as number) ^ 0xff;
    writeFileSync(path, bytes);
  }

  it('control: an intact finished journal reads whole with no loss', async () => {
    const { path } = await written(true);
    const read = readJobJournal(path, expected);
    assert.equal(read.records.length, 6);
    assert.equal(read.loss, undefined);
    assert.equal(checkJobJournal(path, expected).problem, undefined);
  });

  it('damage with whole records after it is a loss from the first record not read', async () => {
    const { path, starts } = await written(false);
    flipAt(path, (starts[2] as number) + 20); // inside record 2's payload; records 3 and 4 still verify
    const read = readJobJournal(path, expected);
    assert.deepEqual(
      read.records.map((record) => record.t),
      ['started', 'stageStarted'],
    );
    assert.equal(read.loss?.fromRecord, 2);
    assert.match(read.loss?.detail ?? '', /damaged at byte \d+ with records after it/);
  });

  it('a record cut out of the middle (a sequence gap) is a loss there', async () => {
    const { path, starts } = await written(true);
    const bytes = readFileSync(path);
    writeFileSync(path, Buffer.concat([bytes.subarray(0, starts[3]), bytes.subarray(starts[4])]));
    const read = readJobJournal(path, expected);
    assert.equal(read.records.length, 3);
    assert.equal(read.loss?.fromRecord, 3);
  });

  it('a torn last write in a run with no exit is not a loss, and still names the unread bytes', async () => {
    const { path, starts } = await written(false);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, (starts[4] as number) + 7));
    const read = readJobJournal(path, expected);
    assert.equal(read.records.length, 4);
    assert.equal(read.loss, undefined);
    assert.equal(read.unreadTail, 7);
    assert.match(checkJobJournal(path, expected).problem ?? '', /ends in 7 bytes that do not read as a record/);
  });

  it('damage at the tail that spans more than its own frame is a loss, not a torn write', async () => {
    const { path, starts } = await written(false);
    const bytes = readFileSync(path);
    bytes.fill(0, starts[3]); // records 3 and 4 zeroed: the first reads as a whole 0-byte frame, with bytes after it
    writeFileSync(path, bytes);
    const read = readJobJournal(path, expected);
    assert.equal(read.records.length, 3);
    assert.equal(read.loss?.fromRecord, 3);
    assert.match(read.loss?.detail ?? '', /across more than one record/);
  });

  it('bytes after the exit record are damage, not a torn write', async () => {
    const { path } = await written(true);
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('garbage after the exit')]));
    const read = readJobJournal(path, expected);
    assert.equal(read.records.length, 6);
    assert.equal(read.loss?.fromRecord, 6);
    assert.match(checkJobJournal(path, expected).problem ?? '', /after its exit record/);
  });

  it("another run's journal in its place is a loss from record 0, never that run's outcome", async () => {
    const { path } = await written(true);
    const other = await written(true, 'job-b');
    writeFileSync(path, readFileSync(other.path));
    const read = readJobJournal(path, expected);
    assert.deepEqual(read.records, []);
    assert.equal(read.loss?.fromRecord, 0);
    assert.match(checkJobJournal(path, expected).problem ?? '', /holds another run \(job-b attempt 1\)/);
  });

  it('a journal whose first record is gone is a loss from record 0', async () => {
    const { path, starts } = await written(true);
    const bytes = readFileSync(path);
    const header = scanJournal(bytes);
    assert.ok(typeof header.header === 'object');
    writeFileSync(path, Buffer.concat([bytes.subarray(0, header.header.byteLength), bytes.subarray(starts[1])]));
    const read = readJobJournal(path, expected);
    assert.deepEqual(read.records, []);
    assert.match(read.loss?.detail ?? '', /first records are missing/);
  });

  it('a damaged header, a missing or an empty file are a loss from record 0', async () => {
    const { path } = await written(true);
    flipAt(path, 3);
    assert.match(readJobJournal(path, expected).loss?.detail ?? '', /header is damaged/);
    writeFileSync(path, Buffer.alloc(0));
    assert.equal(readJobJournal(path, expected).loss?.fromRecord, 0);
    rmSync(path);
    assert.match(readJobJournal(path, expected).loss?.detail ?? '', /the file is missing/);
  });

  it('known limit: a cut exactly between records reads as a run that stopped there', async () => {
    // A prefix of a journal is byte for byte a journal whose supervisor died at that point.
    const { path, starts } = await written(true);
    writeFileSync(path, readFileSync(path).subarray(0, starts[5]));
    const read = readJobJournal(path, expected);
    assert.equal(read.records.length, 5);
    assert.equal(read.loss, undefined);
  });
});
