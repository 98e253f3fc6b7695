import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJobJournal } from '../../src/core/supervisors/journalCheck';
import type { JobRecord } from '../../src/shared/supervisor/supervisorWire';
import { jobRecordSchema } from '../../src/shared/supervisor/supervisorWire';
import { jobFilePaths } from '../../src/shared/supervisor/node/jobFilePaths';
import { AckMark, jobAckMarkPath } from '../../src/core/storage/ackMark';
import { createJournalFileSync, Journal } from '../../src/core/storage/journal';
import { readImage } from './image';
import type { DamageSubject, Fixture, Mode, TrialResult } from './verdict';

type Unstamped = JobRecord extends infer T ? (T extends JobRecord ? Omit<T, 'at'> : never) : never;

/** A run as its supervisor records it: started, two stages with progress, heartbeats and a checkpoint, then its exit. */
function run(jobId: string, variant: number): Unstamped[] {
  const supervisor = { pid: 4242 + variant, startTime: `boot-${variant}`, host: 'damage-fuzz' };
  const records: Unstamped[] = [{ t: 'started', jobId, attempt: 1, supervisor, socketPath: `/tmp/lifeline-${variant}.sock`, fromStage: 0 }];
  for (const stage of [0, 1]) {
    records.push({ t: 'stageStarted', stage, process: { pid: 5000 + stage, host: 'damage-fuzz' } });
    for (let step = 1; step <= 4; step++) records.push({ t: 'progress', fraction: step / 4, message: `stage ${stage} step ${step}` });
    records.push({ t: 'heartbeat' }, { t: 'checkpoint', checkpoint: `stage-${stage}-${'c'.repeat(variant * 7)}` });
    records.push({ t: 'stageFinished', stage, exitCode: 0, signal: null });
  }
  records.push({ t: 'exited', exitCode: 0, signal: null });
  return records;
}

/**
 * A job's journal, written the way JobExecution writes it (a storage-core Journal on the calling
 * thread, one JSON record per fact, each awaited) and read back the way the supervisor runner
 * judges a run it cannot adopt (readJobJournal, under checkJobJournal), told what the queue knows:
 * this job and attempt, and that it saw the run start. After a crash the supervisor died mid-run:
 * no `exited`, and one more record written but never acknowledged.
 */
export const jobJournalSubject: DamageSubject = {
  name: 'jobJournal',
  async populate(directory: string, mode: Mode, variant: number): Promise<Fixture> {
    const jobId = `job-${variant}`;
    const { journalPath } = jobFilePaths(join(directory, 'jobs'), jobId, 1);
    mkdirSync(join(directory, 'jobs'), { recursive: true });
    const journal = new Journal(createJournalFileSync(journalPath, 1, undefined), 0, { writeOnCallingThread: true });
    // As JobExecution does: the acknowledged end noted beside the journal after each record.
    const mark = new AckMark(
      jobAckMarkPath(journalPath),
      () => journal.end,
      () => undefined,
    );
    const acknowledged: string[] = [];
    const all = run(jobId, variant);
    const written = mode === 'crash' ? all.slice(0, -4) : all;
    let at = Date.UTC(2026, 5, 1) + variant;
    for (const record of written) {
      const stamped = { ...record, at: (at += 250) };
      await journal.append(Buffer.from(JSON.stringify(stamped)), () => undefined);
      mark.note();
      acknowledged.push(canonical(stamped));
    }
    let inflight: string | undefined;
    if (mode === 'crash') {
      const stamped = { t: 'heartbeat', at: at + 250 };
      await journal.append(Buffer.from(JSON.stringify(stamped)), () => undefined);
      mark.note();
      inflight = canonical(stamped);
    }
    // A clean close first (it may write what marks it clean); a crash image is taken with the store still open.
    if (mode === 'clean') {
      await journal.close();
      mark.close();
    }
    const image = readImage(directory);
    const file = [...image.keys()].find((name) => name.endsWith('.journal')) as string;
    return {
      image,
      journals: new Set([file]),
      open: async (trialDirectory) => judge(read(join(trialDirectory, file), jobId), acknowledged, inflight),
      dispose: async () => {
        mark.close();
        await journal.close();
      },
    };
  },
};

/** As the reader's schema gives it back, so key order does not matter. */
function canonical(record: unknown): string {
  return JSON.stringify(jobRecordSchema.parse(record));
}

/** The product's read and its loss report: `lostFrom` is the index of the first record it says is lost. */
function read(path: string, jobId: string): { records: string[]; lostFrom: number | undefined; said: string } {
  const opened = readJobJournal(path, { jobId, attempt: 1, queueSawStart: true });
  const said = opened.loss ? `loss from record ${opened.loss.fromRecord}` : opened.unreadTail !== undefined ? 'torn tail' : 'no report';
  return { records: opened.records.map(canonical), lostFrom: opened.loss?.fromRecord, said };
}

/**
 * intact: every acknowledged record came back (and perhaps the in-flight one). reported: a loss
 * from record F, and the records read are exactly the acknowledged ones before F. Anything else is
 * silent, including a report whose records are not that prefix.
 */
function judge(
  opened: { records: string[]; lostFrom: number | undefined; said: string },
  acknowledged: readonly string[],
  inflight: string | undefined,
): TrialResult {
  const { said } = opened;
  const same = (expected: readonly string[]): boolean =>
    opened.records.length === expected.length && opened.records.every((record, index) => record === expected[index]);
  if (same(acknowledged) || (inflight !== undefined && same([...acknowledged, inflight]))) {
    return { outcome: 'intact', said, detail: 'every acknowledged record came back' };
  }
  if (opened.lostFrom !== undefined) {
    if (opened.lostFrom <= acknowledged.length && same(acknowledged.slice(0, opened.lostFrom))) {
      return { outcome: 'reported', said, detail: `the reader reported a loss from record ${opened.lostFrom}` };
    }
    return {
      outcome: 'silent',
      said,
      detail: `a loss from record ${opened.lostFrom} reported, but the records read are not the acknowledged ones before it`,
    };
  }
  return {
    outcome: 'silent',
    said,
    detail: `read ${opened.records.length} records of ${acknowledged.length} acknowledged, with no report`,
  };
}
