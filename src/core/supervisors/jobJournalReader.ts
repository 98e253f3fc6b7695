import { closeSync, openSync, readSync } from 'node:fs';
import type { JobFileKey } from '../storage/sealedLog';
import type { JournalHeader, ScannedRecord } from '../storage/journalFormat';
import { recordAssociatedData, scanJournal } from '../storage/journalFormat';
import { requireKey } from '../storage/sealedLog';
import type { JobRecord } from '../../shared/supervisor/supervisorWire';
import { jobRecordSchema } from '../../shared/supervisor/supervisorWire';

/**
 * Follows a job's journal while its supervisor appends to it: each `read()` returns the records
 * written since the last one. Synchronous, because adoption must decide at once whether a job
 * still has an owner. A partly written last frame is simply not read yet; a record that does not
 * parse is skipped (a newer supervisor may write kinds this host does not know). An encrypted
 * journal is read with `cipher`: without it (or with another key) `read` throws StorageError
 * 'missingKey' / 'wrongKey', and a whole record that does not open 'decryptFailed'.
 */
export class JobJournalReader {
  private header: Buffer | undefined;
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  /** Kept open while the job is followed: a job's records are read several times a second. */
  private fd: number | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly cipher?: JobFileKey,
  ) {}

  /** Every record of the journal at `path` now, for a one-off look. */
  static readAll(path: string, cipher?: JobFileKey): JobRecord[] {
    const reader = new JobJournalReader(path, cipher);
    try {
      return reader.read();
    } finally {
      reader.close();
    }
  }

  /** Bytes read but not yet a whole record: a frame still being written, or a cut or damaged tail. */
  get unreadBytes(): number {
    return this.pending.length;
  }

  /** Lets the file go; later reads return nothing. */
  close(): void {
    this.closed = true;
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  read(): JobRecord[] {
    if (this.closed) return [];
    const fresh = this.readNewBytes();
    if (fresh.length === 0 && this.pending.length === 0) return [];
    this.pending = this.pending.length === 0 ? fresh : Buffer.concat([this.pending, fresh]);
    if (!this.header) {
      const scan = scanJournal(this.pending);
      if (typeof scan.header !== 'object') return [];
      // Before anything is consumed: a locked journal throws at every read, never skips records.
      if (scan.header.encrypted) requireKey(scan.header.keyFingerprint, this.cipher, `The job journal ${this.path}`);
      this.header = Buffer.from(this.pending.subarray(0, scan.header.byteLength));
      this.pending = this.pending.subarray(scan.header.byteLength);
    }
    // Frames are self-contained, so the header plus the unread bytes scan like a whole file.
    const scan = scanJournal(Buffer.concat([this.header, this.pending]));
    if (typeof scan.header !== 'object') return [];
    const records = openJobRecords(scan.header, scan.records, this.cipher, this.path);
    this.pending = this.pending.subarray(scan.validLength - this.header.length);
    return parseJobRecords(records);
  }

  private readNewBytes(): Buffer {
    if (this.fd === undefined) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return Buffer.alloc(0); // not created yet
      }
    }
    const chunks: Buffer[] = [];
    for (;;) {
      const bytes = readSync(this.fd, scratch, 0, scratch.length, this.offset);
      if (bytes === 0) break;
      chunks.push(Buffer.from(scratch.subarray(0, bytes)));
      this.offset += bytes;
    }
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  }
}

/**
 * The records of a scanned job journal with their payloads opened when the journal is encrypted
 * (sealed by the storage core's journal, bound to generation and sequence). Throws the typed key
 * error when `cipher` cannot open them; a plain journal's records are returned as they are.
 */
export function openJobRecords(
  header: JournalHeader,
  records: readonly ScannedRecord[],
  cipher: JobFileKey,
  path: string,
): ScannedRecord[] {
  if (!header.encrypted) return [...records];
  const key = requireKey(header.keyFingerprint, cipher, `The job journal ${path}`);
  return records.map((record) => ({
    sequence: record.sequence,
    payload: key.open(record.payload, recordAssociatedData(header.generation, record.sequence)),
  }));
}

/** The records a scan found, as this host reads them: a kind it does not know (or not JSON) is skipped. */
export function parseJobRecords(scanned: readonly ScannedRecord[]): JobRecord[] {
  const records: JobRecord[] = [];
  for (const record of scanned) {
    try {
      const parsed = jobRecordSchema.safeParse(JSON.parse(Buffer.from(record.payload).toString('utf8')));
      if (parsed.success) records.push(parsed.data);
    } catch {
      // Not JSON: skipped like an unknown kind.
    }
  }
  return records;
}

/** Read into, then copied out of: one buffer for every reader in the process. */
const scratch = Buffer.allocUnsafe(64 * 1024);
