import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunEvent } from '../../../src/core/queue/jobRunner';
import { AesGcmCipher, generateKey } from '../../../src/core/storage/aesGcmCipher';
import { StorageError } from '../../../src/core/storage/errors';
import { JobJournalReader } from '../../../src/core/supervisors/jobJournalReader';
import { checkJobJournal } from '../../../src/core/supervisors/journalCheck';
import { readJobOutput, readOutputTail } from '../../../src/core/supervisors/outputTail';
import { SupervisorRunner } from '../../../src/core/supervisors/supervisorRunner';
import { checkpointFilePath } from '../../../src/shared/supervisor/node/checkpointFile';
import { jobFilePaths } from '../../../src/shared/supervisor/node/jobFilePaths';
import { nextExit, runRequest } from '../runnerTestKit';
import { killSupervisorsOf, waitUntil, supervisorScript } from './supervisorTestKit';

const reason = (reason: string) => (error: unknown) => StorageError.is(error) && error.reason === reason;

/** Every file in `dir` that holds `marker` in plain. */
function filesHolding(dir: string, marker: string): string[] {
  return readdirSync(dir).filter((name) => readFileSync(join(dir, name)).includes(marker));
}

describe('supervisor: job journals and output logs encrypted at rest', function () {
  this.timeout(20_000);
  let dir: string;
  let jobsDir: string;
  let key: Uint8Array;
  let cipher: AesGcmCipher;
  let marker: string;
  const runners: SupervisorRunner[] = [];
  const newRunner = (options: { key?: Uint8Array; logLimitBytes?: number } = {}): SupervisorRunner => {
    const runner = new SupervisorRunner({
      jobsDir,
      supervisorScript,
      heartbeatMs: 200,
      pollMs: 50,
      idleExitMs: 1000,
      ...(options.logLimitBytes ? { logLimitBytes: options.logLimitBytes } : {}),
      ...(options.key ? { encryptionKey: () => options.key } : {}),
    });
    runners.push(runner);
    return runner;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-jobcrypt-'));
    jobsDir = join(dir, 'jobs');
    key = generateKey();
    cipher = new AesGcmCipher(key);
    marker = `MARK${randomBytes(6).toString('hex')}`;
  });
  afterEach(async () => {
    for (const runner of runners.splice(0)) await runner.dispose();
    killSupervisorsOf(jobsDir, cipher);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a run with a key leaves no output, progress or checkpoint in plain, and reads back equal with the key', async () => {
    const runner = newRunner({ key });
    const done = nextExit(runner, 'j');
    runner.start(
      runRequest(dir, 'j', [
        `echo "out ${marker}"; echo "err ${marker}" >&2; echo "::lifeline progress 50 ${marker}"; echo "cp-file-${marker}" > "$LIFELINE_CHECKPOINT_FILE"`,
        `echo "::lifeline checkpoint line-${marker}"; exit 3`,
      ]),
    );
    assert.equal((await done).exitCode, 3);
    const { journalPath, logPath } = jobFilePaths(jobsDir, 'j', 1);
    assert.deepEqual(filesHolding(jobsDir, marker), [], 'no file of the run holds the marker in plain');
    assert.equal(existsSync(checkpointFilePath(journalPath)), false, 'the plain checkpoint file went once sealed in the journal');

    const records = JobJournalReader.readAll(journalPath, cipher);
    const checkpoints = records.map((record) => (record.t === 'checkpoint' ? record.checkpoint : ''));
    assert.ok(checkpoints.includes(`cp-file-${marker}`) && checkpoints.includes(`line-${marker}`), JSON.stringify(checkpoints));
    assert.ok(records.some((record) => record.t === 'progress' && record.message === marker));
    assert.equal(records.at(-1)?.t, 'exited');
    const output = await readJobOutput(logPath, cipher);
    assert.ok(output.includes(`out ${marker}\n`) && output.includes(`err ${marker}\n`), output);
    assert.ok((await readOutputTail(jobsDir, 'j', 1, 4096, cipher)).includes(`out ${marker}`));
    assert.equal(checkJobJournal(journalPath, { jobId: 'j', attempt: 1, queueSawStart: true }, cipher).problem, undefined);

    // Without the key: the typed key error, never "damaged" or "lost".
    assert.throws(() => JobJournalReader.readAll(journalPath), reason('missingKey'));
    assert.throws(() => checkJobJournal(journalPath, { jobId: 'j', attempt: 1, queueSawStart: true }), reason('missingKey'));
    await assert.rejects(readJobOutput(logPath), reason('missingKey'));
    await assert.rejects(readOutputTail(jobsDir, 'j', 1, 4096), reason('missingKey'));
    const wrong = new AesGcmCipher(generateKey());
    assert.throws(() => JobJournalReader.readAll(journalPath, wrong), reason('wrongKey'));
    await assert.rejects(readJobOutput(logPath, wrong), reason('wrongKey'));
  });

  it('a run without a key is written plain, as before', async () => {
    const runner = newRunner();
    const done = nextExit(runner, 'p');
    runner.start(runRequest(dir, 'p', [`echo "out ${marker}"`]));
    assert.equal((await done).exitCode, 0);
    assert.ok(readFileSync(jobFilePaths(jobsDir, 'p', 1).logPath, 'utf8').includes(`out ${marker}`));
  });

  it('the cap holds on an encrypted log: head and tail of the output, a note of the cut, in bounded bytes', async () => {
    const limit = 8192;
    const runner = newRunner({ key, logLimitBytes: limit });
    const done = nextExit(runner, 'big');
    runner.start(runRequest(dir, 'big', [`echo BEGIN-${marker}; seq 1 40000; echo END-${marker}`]));
    await done;
    const { logPath } = jobFilePaths(jobsDir, 'big', 1);
    const output = await readJobOutput(logPath, cipher);
    assert.ok(output.startsWith(`BEGIN-${marker}\n`), output.slice(0, 40));
    assert.ok(output.endsWith(`END-${marker}\n`), output.slice(-40));
    assert.match(output, /bytes of output were cut here/);
    const note = /\n\[lifeline: .*\]\n/.exec(output)?.[0] ?? '';
    assert.equal(Buffer.byteLength(output) - Buffer.byteLength(note), limit);
    // Sealing adds a header and a few dozen bytes a frame, never a copy of what was cut.
    assert.ok(statSync(logPath).size < limit * 2, `log file is ${statSync(logPath).size} bytes`);
    assert.deepEqual(filesHolding(jobsDir, marker), []);
  });

  it('a new host with the same key adopts a running job from its encrypted journal; one without the key holds it as locked', async () => {
    const go = join(dir, 'go');
    const first = newRunner({ key });
    const events: RunEvent[] = [];
    first.start(runRequest(dir, 'a', [`echo "::lifeline progress 10 ${marker}"; while [ ! -e ${go} ]; do sleep 0.05; done; exit 4`]));
    first.onDidRun((event) => events.push(event));
    await waitUntil(() => events.some((event) => event.type === 'progress'), 10_000, 'the job reported progress');
    const pid = (events.find((event) => event.type === 'started') as Extract<RunEvent, { type: 'started' }> | undefined)?.pid;
    await first.dispose();

    // No key: followed as locked (never settled, never reported lost), and nothing is read from it.
    const locked = newRunner();
    const lockedEvents: RunEvent[] = [];
    locked.onDidRun((event) => lockedEvents.push(event));
    assert.equal(locked.adopt({ jobId: 'a', attempt: 1, pid }), true);
    await locked.dispose();
    assert.deepEqual(lockedEvents, []);

    const second = newRunner({ key });
    const replayed: RunEvent[] = [];
    second.onDidRun((event) => replayed.push(event));
    const exit = nextExit(second, 'a');
    assert.equal(second.adopt({ jobId: 'a', attempt: 1, pid }), true);
    await waitUntil(() => replayed.some((event) => event.type === 'progress'), 10_000, 'the adopted job replayed its progress');
    assert.deepEqual(
      replayed.find((event) => event.type === 'progress'),
      { type: 'progress', jobId: 'a', attempt: 1, fraction: 0.1, message: marker },
    );
    writeFileSync(go, '');
    assert.equal((await exit).exitCode, 4);
    assert.deepEqual(filesHolding(jobsDir, marker), []);
  });
});
