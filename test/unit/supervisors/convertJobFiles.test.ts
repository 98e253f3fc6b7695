import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { jobAckMarkPath } from '../../../src/core/storage/ackMark';
import { StorageError } from '../../../src/core/storage/errors';
import { SealedLogWriter } from '../../../src/core/storage/sealedLog';
import { convertJobFiles } from '../../../src/core/supervisors/convertJobFiles';
import { JobJournalReader } from '../../../src/core/supervisors/jobJournalReader';
import { checkJobJournal } from '../../../src/core/supervisors/journalCheck';
import { readJobOutput } from '../../../src/core/supervisors/outputTail';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { checkpointFilePath } from '../../../src/shared/supervisor/node/checkpointFile';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { journalProblems } from '../../../src/storeCli/assess';
import type { Job } from '../../../src/core/queue/jobModel';
import { nextExit, runRequest } from '../runnerTestKit';
import { killSupervisorsOf, supervisorScript } from './supervisorTestKit';

const reason = (reason: string) => (error: unknown) => StorageError.is(error) && error.reason === reason;

describe('supervisor: converting job files between plain and encrypted', function () {
  this.timeout(20_000);
  let dir: string;
  let jobsDir: string;
  let marker: string;
  let cipher: AesGcmCipher;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-jobconv-'));
    jobsDir = join(dir, 'jobs');
    marker = `MARK${randomBytes(6).toString('hex')}`;
    cipher = new AesGcmCipher(generateKey());
    // Two finished plain runs, as a build without encryption left them.
    const runner = new SupervisorRunner({ jobsDir, supervisorScript, heartbeatMs: 200, pollMs: 50, idleExitMs: 1000 });
    try {
      for (const jobId of ['one', 'two']) {
        const done = nextExit(runner, jobId);
        runner.start(
          runRequest(dir, jobId, [
            `echo "out ${jobId} ${marker}"; echo "::lifeline progress 50 ${marker}"; echo "cp-${marker}" > "$LIFELINE_CHECKPOINT_FILE"`,
          ]),
        );
        await done;
      }
    } finally {
      await runner.dispose();
      killSupervisorsOf(jobsDir);
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const paths = (jobId: string) => jobFilePaths(jobsDir, jobId, 1);
  const holding = () => readdirSync(jobsDir).filter((name) => readFileSync(join(jobsDir, name)).includes(marker));
  const expectation = (jobId: string) => ({ jobId, attempt: 1, queueSawStart: true });

  it('plain → encrypted → plain reads back equal; a skipped job is left as it was', async () => {
    const before = {
      records: JobJournalReader.readAll(paths('one').journalPath),
      output: readFileSync(paths('one').logPath, 'utf8'),
      skipped: readFileSync(paths('two').journalPath),
    };
    assert.ok(holding().length > 0, 'the plain files hold the marker');

    const sealed = await convertJobFiles(jobsDir, { from: undefined, to: cipher, skip: (jobId) => jobId === 'two' });
    assert.deepEqual(sealed, { journals: 1, logs: 1, checkpointsRemoved: 1, unchanged: 0, failed: [] });
    assert.deepEqual(
      holding().filter((name) => !name.startsWith('two.')),
      [],
      'no file of the converted run holds the marker',
    );
    assert.equal(existsSync(checkpointFilePath(paths('one').journalPath)), false);
    assert.ok(readFileSync(paths('two').journalPath).equals(before.skipped), 'the skipped job is untouched');
    assert.deepEqual(JobJournalReader.readAll(paths('one').journalPath, cipher), before.records);
    assert.equal(await readJobOutput(paths('one').logPath, cipher), before.output);
    assert.equal(checkJobJournal(paths('one').journalPath, expectation('one'), cipher).problem, undefined);
    assert.throws(() => JobJournalReader.readAll(paths('one').journalPath), reason('missingKey'));
    // lifeline-store reads it with the recovery key's cipher; without one it is locked, not damaged.
    const jobs = [{ id: 'one', name: 'one', state: 'interrupted', attempts: 1, pid: 1 } as unknown as Job];
    assert.deepEqual(journalProblems(jobsDir, jobs, cipher), []);
    assert.throws(() => journalProblems(jobsDir, jobs), reason('missingKey'));

    // Again: nothing left to do.
    const again = await convertJobFiles(jobsDir, { from: cipher, to: cipher, skip: (jobId) => jobId === 'two' });
    assert.deepEqual([again.journals, again.logs, again.unchanged], [0, 0, 2]);

    const plain = await convertJobFiles(jobsDir, { from: cipher, to: undefined, skip: () => false });
    assert.deepEqual([plain.journals, plain.logs, plain.failed], [1, 1, []]);
    assert.deepEqual(JobJournalReader.readAll(paths('one').journalPath), before.records);
    assert.equal(readFileSync(paths('one').logPath, 'utf8'), before.output);
    assert.equal(checkJobJournal(paths('one').journalPath, expectation('one')).problem, undefined);
  });

  it('a file sealed with a key it was not given is left, listed, never removed', async () => {
    await convertJobFiles(jobsDir, { from: undefined, to: cipher, skip: () => false });
    const sealedBytes = readFileSync(paths('one').journalPath);
    const result = await convertJobFiles(jobsDir, { from: new AesGcmCipher(generateKey()), to: undefined, skip: () => false });
    assert.equal(result.failed.length, 4, JSON.stringify(result.failed));
    assert.ok(readFileSync(paths('one').journalPath).equals(sealedBytes));
  });

  it('a crash mid-convert (the temp file written, the rename not done; or the ack mark gone first) leaves readable files, and the next convert finishes', async () => {
    const { journalPath, logPath } = paths('one');
    const records = JobJournalReader.readAll(journalPath);
    const output = readFileSync(logPath, 'utf8');
    // What writeFileAtomic leaves when the process dies before its rename: a sealed temp beside the file.
    const writer = new SealedLogWriter(cipher);
    const temp = join(jobsDir, `.${basename(logPath)}.${randomBytes(6).toString('hex')}.tmp`);
    writeFileSync(temp, Buffer.concat([writer.header(), writer.output(Buffer.from(output))]));
    // The journal's ack mark is removed before its journal is replaced: a crash in between leaves this.
    rmSync(jobAckMarkPath(journalPath));
    assert.deepEqual(JobJournalReader.readAll(journalPath), records);
    assert.equal(checkJobJournal(journalPath, expectation('one')).problem, undefined);
    assert.equal(readFileSync(logPath, 'utf8'), output);

    const result = await convertJobFiles(jobsDir, { from: undefined, to: cipher, skip: () => false });
    assert.deepEqual(result.failed, []);
    assert.equal(existsSync(temp), false, 'the leftover temp file is cleared');
    assert.deepEqual(JobJournalReader.readAll(journalPath, cipher), records);
    assert.equal(await readJobOutput(logPath, cipher), output);
  });
});
