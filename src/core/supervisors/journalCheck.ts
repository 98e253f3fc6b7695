import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { decodeAckMark, jobAckMarkPath } from '../storage/ackMark';
import { FRAME_HEADER_BYTES, scanJournal } from '../storage/journalFormat';
import type { JobRecord } from '../../shared/supervisor/supervisorWire';
import type { JobFileKey } from '../storage/sealedLog';
import { openJobRecords, parseJobRecords } from './jobJournalReader';

/** What the queue knows of a run before its journal is read: the journal must agree with it. */
export interface JournalExpectation {
  readonly jobId: string;
  readonly attempt: number;
  /** The queue has applied this run's `started` record (it holds the run's pid): the journal held it. */
  readonly queueSawStart: boolean;
}

/** Records the journal held when written and that are not among those read, from `fromRecord` (an index into them) on. */
export interface JournalLoss {
  readonly fromRecord: number;
  readonly detail: string;
}

export interface JobJournalRead {
  /** The records read: always a prefix of what the journal held, and all of it unless `loss` says otherwise. */
  readonly records: JobRecord[];
  readonly loss?: JournalLoss;
  /** Bytes after the last whole record in a run that has no exit: a torn last write, or a cut there (see below). */
  readonly unreadTail?: number;
}

const unknown = 'its outcome is unknown';

/**
 * Reads a run's journal once, whole, and says what of it was lost (#16). The rule:
 *
 * - A missing or empty file, a damaged header, or a first record that is not the run's own
 *   (`started` of this job and attempt, at sequence 1): lost from record 0.
 * - Damage with valid frames after it (scanJournal's `middle`; a sequence gap is damage too):
 *   lost from the first record not read. Only one write is ever in flight (each is awaited
 *   before the next), so a crash cannot leave anything valid behind a torn frame.
 * - Damage at the tail of a journal that holds `exited`: lost from there (nothing is written
 *   after the exit, so these bytes were damaged, not torn).
 * - Damage at the tail that reaches past the end of its own whole frame: more than one write's
 *   worth, so not a torn write (the file only ever grows by the one frame in flight): a loss.
 * - Other damage at the tail of a journal without `exited`: the supervisor's last write, never
 *   acknowledged, torn by a crash. Not a loss: `unreadTail` gives its size. The bytes cannot tell
 *   this from a cut inside an earlier record (or inside the exit record): a file truncated there
 *   is byte for byte a journal whose supervisor died then. Likewise a cut exactly between records.
 *   The queue keeps only whether it saw the start (`queueSawStart`), so these are found only when
 *   `started` itself is gone; the job is then settled interrupted (never success), with the torn
 *   tail named in its reason by checkJobJournal.
 *
 * An encrypted journal is read with `cipher`; without its key this throws StorageError
 * 'missingKey' / 'wrongKey' (the journal is locked, not lost), and 'decryptFailed' for a whole
 * record that does not open.
 */
export function readJobJournal(path: string, expected: JournalExpectation, cipher?: JobFileKey): JobJournalRead {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return lostAll(
      expected.queueSawStart
        ? `its journal was lost (the file is missing): ${unknown}`
        : 'no journal of the run was found: it never started, or its journal was lost',
    );
  }
  if (bytes.length === 0) {
    return lostAll(
      expected.queueSawStart
        ? `its journal was lost (the file is empty): ${unknown}`
        : 'its journal is empty: it was emptied, or the run never started',
    );
  }
  const scan = scanJournal(bytes);
  if (scan.header === 'torn' || scan.header === 'corrupt') {
    const why = scan.header === 'torn' ? 'cut inside its header' : scan.detail;
    return lostAll(`its journal's header is damaged (${why}): ${unknown}`);
  }
  const records = parseJobRecords(openJobRecords(scan.header, scan.records, cipher, path));
  const first = records[0];
  if (scan.records.length > 0 && scan.records[0]?.sequence !== 1) {
    return lostAll(`its journal's first records are missing (it begins at record ${scan.records[0]?.sequence}): ${unknown}`);
  }
  if (first && (first.t !== 'started' || first.jobId !== expected.jobId || first.attempt !== expected.attempt)) {
    return lostAll(
      first.t === 'started'
        ? `its journal holds another run (${first.jobId} attempt ${first.attempt}): ${unknown}`
        : `its journal does not begin with the run's start: ${unknown}`,
    );
  }
  // The end its supervisor acknowledged (an unsynced hint beside the journal, see ackMark.ts): a
  // journal shorter than it, or whose acknowledged bytes differ, lost records, however whole it looks.
  const mark = decodeAckMark(readIfExists(jobAckMarkPath(path)));
  if (mark && (bytes.length < mark.bytes || crc32(bytes.subarray(0, mark.bytes)) !== mark.crc)) {
    return {
      records,
      loss: {
        fromRecord: records.length,
        detail: `its journal was cut or altered before the end its supervisor acknowledged (record ${mark.sequence}): ${records.length} records were read, the rest are lost`,
      },
    };
  }
  const damage = scan.damage;
  const exited = records.some((record) => record.t === 'exited');
  // A torn write is one frame: damage whose own (whole) frame ends before the file does spans more.
  const beyondOneFrame =
    damage !== undefined && damage.droppedCompleteRecord && damage.bytes > FRAME_HEADER_BYTES + bytes.readUInt32LE(damage.offset);
  if (damage && (damage.kind === 'middle' || exited || beyondOneFrame)) {
    return {
      records,
      loss: {
        fromRecord: records.length,
        detail: `its journal is damaged at byte ${damage.offset} ${exited ? 'after its exit record' : damage.kind === 'middle' ? 'with records after it' : 'across more than one record'}: ${records.length} records were read, the rest are lost`,
      },
    };
  }
  if (!first && !damage && expected.queueSawStart) {
    return lostAll(`its journal no longer holds the start the queue read from it (cut or damaged): ${unknown}`);
  }
  return damage ? { records, unreadTail: damage.bytes } : { records };
}

function lostAll(detail: string): JobJournalRead {
  return { records: [], loss: { fromRecord: 0, detail } };
}

/**
 * Why a run's journal cannot tell how the run ended, when that is damage rather than a run that
 * never got far (#16). A job whose journal is missing, empty or cut is settled with this as its
 * reason, never as success and never as a plain interruption with no word.
 */
export interface JournalCheck {
  readonly records: JobRecord[];
  readonly problem: string | undefined;
}

/**
 * Reads the journal at `path` once and judges it (readJobJournal's rule). A loss is the problem;
 * so is a torn tail in a run with no exit (its outcome may have been in those bytes), and a
 * journal with no `started` at all (the run may have stopped before its supervisor wrote).
 * Key errors are thrown as readJobJournal throws them.
 */
export function checkJobJournal(path: string, expected: JournalExpectation, cipher?: JobFileKey): JournalCheck {
  const read = readJobJournal(path, expected, cipher);
  const { records } = read;
  if (read.loss) return { records, problem: read.loss.detail };
  if (read.unreadTail !== undefined) {
    return {
      records,
      problem: `its journal ends in ${read.unreadTail} bytes that do not read as a record (cut, torn or damaged): ${unknown}`,
    };
  }
  if (records.length === 0) {
    return {
      records,
      problem: expected.queueSawStart
        ? `its journal no longer holds the start the queue read from it (cut or damaged): ${unknown}`
        : 'its journal holds no record of the run: it was cut, or the run never started',
    };
  }
  return { records, problem: undefined };
}

function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}
