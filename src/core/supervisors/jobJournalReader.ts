import { closeSync, openSync, readSync } from 'node:fs';
import type { ScannedRecord } from '../storage/journalFormat';
import { scanJournal } from '../storage/journalFormat';
import type { JobRecord } from '../../shared/supervisor/supervisorWire';
import { jobRecordSchema } from '../../shared/supervisor/supervisorWire';

/**
 * Follows a job's journal while its supervisor appends to it: each `read()` returns the records
 * written since the last one. Synchronous, because adoption must decide at once whether a job
 * still has an owner. A partly written last frame is simply not read yet; a record that does not
 * parse is skipped (a newer supervisor may write kinds this host does not know).
 */
export class JobJournalReader {
  private header: Buffer | undefined;
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);
  /** Kept open while the job is followed: a job's records are read several times a second. */
  private fd: number | undefined;
  private closed = false;

  constructor(readonly path: string) {}

  /** Every record of the journal at `path` now, for a one-off look. */
  static readAll(path: string): JobRecord[] {
    const reader = new JobJournalReader(path);
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
      this.header = Buffer.from(this.pending.subarray(0, scan.header.byteLength));
      this.pending = this.pending.subarray(scan.header.byteLength);
    }
    // Frames are self-contained, so the header plus the unread bytes scan like a whole file.
    const scan = scanJournal(Buffer.concat([this.header, this.pending]));
    if (typeof scan.header !== 'object') return [];
    this.pending = this.pending.subarray(scan.validLength - this.header.length);
    return parseJobRecords(scan.records);
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
