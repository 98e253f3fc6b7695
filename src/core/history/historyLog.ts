import type { HistoryEntry } from './historyEntry';

/**
 * One durable change to the active history. `seq` rises by one per record and is stored in the
 * image as `appliedSeq`, so replaying a record the image already holds is a no-op: that is what
 * makes a crash between "write image" and "truncate journal" harmless.
 */
export type HistoryRecord =
  /** A finished job, or a copy restored from the archive (then `entry.restoredFrom` is set). */
  | { readonly t: 'add'; readonly seq: number; readonly entry: HistoryEntry }
  /** Entries now sealed in the archive's batch `batch`, dropped from the active history. */
  | { readonly t: 'drop'; readonly seq: number; readonly batch: number; readonly jobIds: readonly string[] };

/** A record before the history gives it its sequence number. */
export type UnsequencedRecord =
  | { readonly t: 'add'; readonly entry: HistoryEntry }
  | { readonly t: 'drop'; readonly batch: number; readonly jobIds: readonly string[] };

/** What replay found wrong with the journal, for the caller to tell the user. */
export type LogDamage =
  /** The last record was cut short by a crash: cut back to the last good record (nothing acknowledged is lost). */
  | { readonly kind: 'tornTail'; readonly bytes: number; readonly droppedRecord: boolean }
  /** A bad record with valid ones after it: the journal went to quarantine and replay stops before the damage. */
  | { readonly kind: 'corrupt'; readonly quarantinedTo: string; readonly lostRecords: number };

export interface ReplayResult {
  readonly records: readonly HistoryRecord[];
  readonly damage?: LogDamage;
}

/**
 * The history's durability: a journal of appended records plus an image (the exported sql.js
 * database). It maps one-to-one onto the storage core's DurableStore (journal + snapshot); the
 * file-backed twin below serves until that is wired in.
 */
export interface HistoryLog {
  /** Resolves once every record is on disk (one fdatasync serves concurrent callers). */
  append(records: readonly HistoryRecord[]): Promise<void>;
  /**
   * The last image written, or undefined when there is none yet.
   * Rejects with HistoryError('corruptActive') when it fails its checksum.
   */
  readImage(): Promise<Uint8Array | undefined>;
  /** The journal's records in order (possibly some the image already holds: callers skip by seq). */
  replay(): Promise<ReplayResult>;
  /** Atomically replaces the image: after a crash it is the old one or the new one, never a mix. */
  writeImage(bytes: Uint8Array): Promise<void>;
  /** Forgets records with seq <= upToSeq, which the image now holds. Crash-safe. */
  truncate(upToSeq: number): Promise<void>;
  /** Moves the image aside (to quarantine/ on disk); returns where it went. */
  quarantineImage(reason: string): Promise<string>;
  /** Bytes appended since the last truncate, to decide when to compact. */
  readonly journalBytes: number;
  close(): Promise<void>;
}

/** The in-memory twin (STYLE.md rule 2): same contract, nothing on disk. */
export class MemoryHistoryLog implements HistoryLog {
  private records: HistoryRecord[] = [];
  private image: Uint8Array | undefined;
  journalBytes = 0;
  readonly quarantined: Uint8Array[] = [];

  async append(records: readonly HistoryRecord[]): Promise<void> {
    for (const record of records) {
      // A deep copy, as a disk round trip would give.
      this.records.push(JSON.parse(JSON.stringify(record)) as HistoryRecord);
      this.journalBytes += JSON.stringify(record).length + 10;
    }
  }
  async readImage(): Promise<Uint8Array | undefined> {
    return this.image && new Uint8Array(this.image);
  }
  async replay(): Promise<ReplayResult> {
    return { records: [...this.records] };
  }
  async writeImage(bytes: Uint8Array): Promise<void> {
    this.image = new Uint8Array(bytes);
  }
  async truncate(upToSeq: number): Promise<void> {
    this.records = this.records.filter((record) => record.seq > upToSeq);
    this.journalBytes = this.records.reduce((sum, record) => sum + JSON.stringify(record).length + 10, 0);
  }
  async quarantineImage(): Promise<string> {
    if (this.image) this.quarantined.push(this.image);
    this.image = undefined;
    return 'memory';
  }
  async close(): Promise<void> {}
}
