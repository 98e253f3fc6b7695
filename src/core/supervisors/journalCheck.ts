import { statSync } from 'node:fs';
import type { JobRecord } from '../../shared/supervisor/supervisorWire';
import { JobJournalReader } from './jobJournalReader';

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
 * Reads the journal at `path` once and judges it. `queueSawStart`: the queue has applied this
 * run's `started` record (it holds the run's pid), so the journal held at least that record; a
 * journal that is missing, empty or without it lost records. Without that, a run may also have
 * stopped before its supervisor wrote anything: the reason then names both. Bytes after the last whole record, with no exit record
 * before them, are a cut, torn or damaged tail: the outcome may have been in them.
 */
export function checkJobJournal(path: string, queueSawStart: boolean): JournalCheck {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return {
      records: [],
      problem: queueSawStart
        ? 'its journal was lost (the file is missing): its outcome is unknown'
        : 'no journal of the run was found: it never started, or its journal was lost',
    };
  }
  if (size === 0) {
    return {
      records: [],
      problem: queueSawStart
        ? 'its journal was lost (the file is empty): its outcome is unknown'
        : 'its journal is empty: it was emptied, or the run never started',
    };
  }
  const reader = new JobJournalReader(path);
  try {
    const records = reader.read();
    const exited = records.some((record) => record.t === 'exited');
    if (!exited && reader.unreadBytes > 0) {
      return {
        records,
        problem: `its journal ends in ${reader.unreadBytes} bytes that do not read as a record (cut, torn or damaged): its outcome is unknown`,
      };
    }
    if (!records.some((record) => record.t === 'started')) {
      return {
        records,
        problem: queueSawStart
          ? 'its journal no longer holds the start the queue read from it (cut or damaged): its outcome is unknown'
          : 'its journal holds no record of the run: it was cut, or the run never started',
      };
    }
    return { records, problem: undefined };
  } finally {
    reader.close();
  }
}
