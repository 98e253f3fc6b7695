import { z } from 'zod';
import type { DurableCodec } from '../storage/durableRecovery';
import type { StorageEvent } from '../storage/storeEvents';
import type { HistoryEntry } from './historyEntry';
import { parseEntry } from './historyEntry';

/**
 * One durable change to the active history. The storage core applies each acknowledged record
 * exactly once (its own sequence numbers skip what the snapshot holds); `seq` is the row's key in
 * the database, the order of arrival that paging and archival use.
 */
export type HistoryRecord =
  /** A finished job, or a copy restored from the archive (then `entry.restoredFrom` is set). */
  | { readonly t: 'add'; readonly seq: number; readonly entry: HistoryEntry }
  /** Entries now sealed in the archive's batch `batch`, dropped from the active history. */
  | { readonly t: 'drop'; readonly seq: number; readonly batch: number; readonly jobIds: readonly string[] };

/** A record before the history gives it its sequence number. */
export type UnsequencedRecord =
  { readonly t: 'add'; readonly entry: HistoryEntry } | { readonly t: 'drop'; readonly batch: number; readonly jobIds: readonly string[] };

const recordSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('add'), seq: z.number().int().min(1), entry: z.unknown() }),
  z.object({ t: z.literal('drop'), seq: z.number().int().min(1), batch: z.number().int().min(0), jobIds: z.array(z.string()) }),
]);

export function encodeHistoryRecord(record: HistoryRecord): Uint8Array {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

/** Validates on read: a record that does not parse is damage, not a crash later. */
export function decodeHistoryRecord(bytes: Uint8Array): HistoryRecord {
  const parsed = recordSchema.parse(JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')));
  return parsed.t === 'add' ? { t: 'add', seq: parsed.seq, entry: parseEntry(parsed.entry) } : parsed;
}

/** The opened history store: the storage core's DurableStore has exactly this shape. */
export interface HistoryStore<S> {
  /** The acknowledged state (the active database). */
  readonly state: S;
  /** Resolves once the records are on disk and applied to `state`. */
  commit(records: readonly HistoryRecord[]): Promise<void>;
  /** Folds the journal into a new snapshot (the one place the whole database is exported). */
  compact(): Promise<void>;
  /** Bytes of the current journal (its header included). */
  readonly journalBytes: number;
  /** Journal records since the last compaction. */
  readonly journalRecords: number;
  /** Waits for a running compaction, then closes the journal. Does not free `state`. */
  close(): Promise<void>;
}

/**
 * The history's durability: a snapshot (the exported sql.js database) plus a journal of appended
 * records. DurableHistoryLog puts it on the storage core; MemoryHistoryLog is the in-memory twin.
 */
export interface HistoryLog {
  /**
   * Opens the store with the history's codec. Damage found while opening is in `events` (also
   * given to the log's own event listener); a missing or wrong key, a newer format or a failed
   * migration rejects with the StorageError that says so, and nothing is moved.
   */
  open<S>(codec: DurableCodec<S, HistoryRecord>): Promise<{ store: HistoryStore<S>; events: readonly StorageEvent[] }>;
}

/** The in-memory twin: same contract, nothing on disk, for tests that need no disk. Survives close and reopen. */
export class MemoryHistoryLog implements HistoryLog {
  /** Snapshot payload (the exported database), as the durable log would write it. */
  image: Uint8Array | undefined;
  /** Encoded records since the last compaction. */
  records: Uint8Array[] = [];

  async open<S>(codec: DurableCodec<S, HistoryRecord>): Promise<{ store: HistoryStore<S>; events: readonly StorageEvent[] }> {
    let state = this.image ? await codec.decodeSnapshot(new Uint8Array(this.image)) : codec.empty();
    for (const bytes of this.records) state = codec.apply(state, decodeHistoryRecord(bytes));
    let closed = false;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the store object outlives this call
    const log = this;
    const store: HistoryStore<S> = {
      get state() {
        return state;
      },
      get journalBytes() {
        return log.records.reduce((sum, bytes) => sum + bytes.length + 20, 0);
      },
      get journalRecords() {
        return log.records.length;
      },
      async commit(records) {
        if (closed) throw new Error('The history store is closed.');
        // A round trip through the bytes, as the disk would give.
        const encoded = records.map(encodeHistoryRecord);
        log.records.push(...encoded);
        for (const bytes of encoded) state = codec.apply(state, decodeHistoryRecord(bytes));
      },
      async compact() {
        const count = log.records.length;
        const payload = await codec.snapshot(state)();
        log.image = payload instanceof Uint8Array ? new Uint8Array(payload) : new Uint8Array(Buffer.concat(payload));
        log.records = log.records.slice(count);
      },
      async close() {
        closed = true;
      },
    };
    return { store, events: [] };
  }
}
