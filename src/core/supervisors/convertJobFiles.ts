import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from '../storage/atomicFile';
import { jobAckMarkPath } from '../storage/ackMark';
import type { RecordCipher } from '../storage/cipher';
import { encodeFrame, encodeJournalHeader, recordAssociatedData, scanJournal } from '../storage/journalFormat';
import type { JobFileKey } from '../storage/sealedLog';
import { openLogBytes, parseSealedLogHeader, SealedLogWriter } from '../storage/sealedLog';
import { jobIdOfFile } from '../../shared/supervisor/node/jobFilePaths';
import { openJobRecords, parseJobRecords } from './jobJournalReader';

export interface ConvertJobFilesOptions {
  /** Opens the files as they are (sealed ones); undefined: only plain files can be read. */
  readonly from: JobFileKey;
  /** The format to write: sealed with this cipher, or plain when undefined. */
  readonly to: RecordCipher | undefined;
  /** Jobs whose files are left as they are: the running ones, whose supervisor still appends. */
  readonly skip: (jobId: string) => boolean;
}

export interface ConvertJobFilesResult {
  readonly journals: number;
  readonly logs: number;
  /** Checkpoint files removed on the way to encryption: their content is sealed in the run's journal. */
  readonly checkpointsRemoved: number;
  /** Already in the target format. */
  readonly unchanged: number;
  /** Left as they were: damaged, or sealed with a key `from` does not have. Never removed. */
  readonly failed: readonly { readonly file: string; readonly error: string }[];
}

const JOURNAL = /\.journal$/;
const LOG = /\.log$/;
const CHECKPOINT = /\.checkpoint$/;
/** writeFileAtomic's temp files of run files, left by a crash during an earlier conversion. */
const LEFTOVER_TEMP = /^\..+\.(?:journal|log)\.[0-9a-f]{12}\.tmp$/;

/**
 * Rewrites the journal and output log of every run in `jobsDir` whose job `skip` does not name
 * into the format `to` says (docs/encryption-job-files.md), for turning encryption on or off or
 * changing its key. Each file is replaced atomically (temp, fsync, rename, fsync of the folder),
 * so a crash leaves the old file or the new one, each readable with the keys the caller keeps; a
 * journal's ack mark (a hint of its old bytes) goes before its journal is replaced. A job's own
 * checkpoint file, which it writes in plain, is removed on the way to encryption when the run's
 * journal holds the same checkpoint. Never rejects for one file: what cannot be converted is
 * listed in `failed` and left.
 */
export async function convertJobFiles(jobsDir: string, options: ConvertJobFilesOptions): Promise<ConvertJobFilesResult> {
  let names: string[];
  try {
    names = await fs.readdir(jobsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { journals: 0, logs: 0, checkpointsRemoved: 0, unchanged: 0, failed: [] };
    }
    throw error;
  }
  let journals = 0;
  let logs = 0;
  let checkpointsRemoved = 0;
  let unchanged = 0;
  const failed: { file: string; error: string }[] = [];
  for (const name of names) {
    if (LEFTOVER_TEMP.test(name)) await fs.rm(join(jobsDir, name), { force: true });
  }
  for (const name of names) {
    const jobId = jobIdOfFile(name);
    if (jobId === undefined || options.skip(jobId)) continue;
    const path = join(jobsDir, name);
    try {
      if (JOURNAL.test(name)) {
        if (await convertJournal(path, options)) journals++;
        else unchanged++;
      } else if (LOG.test(name)) {
        if (await convertLog(path, options)) logs++;
        else unchanged++;
      } else if (CHECKPOINT.test(name) && options.to && (await removeSealedCheckpoint(path, eitherKey(options.from, options.to)))) {
        checkpointsRemoved++;
      }
    } catch (error) {
      failed.push({ file: path, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return { journals, logs, checkpointsRemoved, unchanged, failed };
}

/** False when the journal is already in the target format. */
async function convertJournal(path: string, options: ConvertJobFilesOptions): Promise<boolean> {
  const bytes = await fs.readFile(path);
  const scan = scanJournal(bytes);
  if (typeof scan.header !== 'object') throw new Error(`the journal's header is damaged; it is left as it is`);
  const { header } = scan;
  if (header.encrypted ? header.keyFingerprint === options.to?.keyFingerprint : options.to === undefined) return false;
  // Its records would be rewritten without the damage, and the damage is the evidence of a loss (#16).
  if (scan.damage) throw new Error(`the journal is damaged at byte ${scan.damage.offset}; it is left as it is`);
  const records = openJobRecords(header, scan.records, options.from, path);
  const to = options.to;
  const parts = [encodeJournalHeader(header.generation, to?.keyFingerprint, header.manifested)];
  for (const record of records) {
    const payload = to ? to.seal(record.payload, recordAssociatedData(header.generation, record.sequence)) : record.payload;
    parts.push(encodeFrame(record.sequence, payload));
  }
  // The ack mark names the old bytes: gone first, so no moment has the new journal judged by it.
  await fs.rm(jobAckMarkPath(path), { force: true });
  await writeFileAtomic(path, parts);
  return true;
}

/** False when the log is already in the target format. A torn last frame is dropped (it never held readable output). */
async function convertLog(path: string, options: ConvertJobFilesOptions): Promise<boolean> {
  const bytes = await fs.readFile(path);
  const header = parseSealedLogHeader(bytes);
  if (header ? header.keyFingerprint === options.to?.keyFingerprint : options.to === undefined) return false;
  const opened = openLogBytes(bytes, options.from, `The output log ${path}`);
  if (!options.to) {
    await writeFileAtomic(path, opened.output);
    return true;
  }
  const writer = new SealedLogWriter(options.to);
  const parts = [writer.header(), writer.output(opened.output)];
  if (opened.complete) parts.push(writer.end());
  await writeFileAtomic(path, parts);
  return true;
}

/** Its journal may be read before or after it was converted in this pass. */
function eitherKey(from: JobFileKey, to: RecordCipher): JobFileKey {
  return (fingerprint) => (fingerprint === to.keyFingerprint ? to : typeof from === 'function' ? from(fingerprint) : from);
}

/** Removes the job's plain checkpoint file when its run's journal holds that checkpoint; true when it did. */
async function removeSealedCheckpoint(path: string, from: JobFileKey): Promise<boolean> {
  const content = (await fs.readFile(path, 'utf8')).trim();
  const journalPath = path.replace(CHECKPOINT, '.journal');
  const scan = scanJournal(await fs.readFile(journalPath).catch(() => Buffer.alloc(0)));
  if (typeof scan.header !== 'object') return false;
  const records = parseJobRecords(openJobRecords(scan.header, scan.records, from, journalPath));
  const last = records.reduce<string | undefined>((found, record) => (record.t === 'checkpoint' ? record.checkpoint : found), undefined);
  if (content !== '' && last !== content) return false;
  await fs.rm(path, { force: true });
  await fsyncDirectory(join(path, '..'));
  return true;
}
