import type { Logger } from '../logger';
import type { AuditSink } from '../storage/auditLog';
import type { RecordCipher } from '../storage/cipher';
import type { DurableCodec } from '../storage/durableRecovery';
import { DurableStore } from '../storage/durableStore';
import type { StorageEvent } from '../storage/storeEvents';
import type { HistoryLog, HistoryRecord, HistoryStore } from './historyLog';

export interface DurableHistoryLogOptions {
  /** Folder of the store's files: `<name>.snapshot` and `<name>.<generation>.journal`. */
  readonly directory: string;
  /** @default 'history' */
  readonly name?: string;
  /** Encrypts the snapshot and every journal record. A history written with a key never opens without it. */
  readonly cipher?: RecordCipher;
  readonly logger?: Logger;
  readonly audit?: AuditSink;
  /** Every storage event (damage found while opening, compactions), for the caller to tell the user. */
  readonly onEvent?: (event: StorageEvent) => void;
  /** The history part of the newest good backup, asked for only when the snapshot is damaged. */
  readonly loadFallback?: () => Promise<Uint8Array | undefined>;
}

/**
 * The history on the storage core's DurableStore: a finished job is one framed, fdatasync'd
 * journal record (group-committed), applied to the in-memory database once it is on disk; the
 * database is exported only when the store compacts. Torn tails are cut, damage quarantined and
 * reported, a missing or wrong key refused: all the store's own rules.
 */
export class DurableHistoryLog implements HistoryLog {
  private store: DurableStore<unknown, HistoryRecord> | undefined;

  constructor(private readonly options: DurableHistoryLogOptions) {}

  /** The underlying store once opened: a backup part (durableBackupSource) and metrics. */
  get durableStore(): DurableStore<unknown, HistoryRecord> | undefined {
    return this.store;
  }

  async open<S>(codec: DurableCodec<S, HistoryRecord>): Promise<{ store: HistoryStore<S>; events: readonly StorageEvent[] }> {
    const store = await DurableStore.open<S, HistoryRecord>({
      directory: this.options.directory,
      name: this.options.name ?? 'history',
      codec,
      cipher: this.options.cipher,
      logger: this.options.logger,
      audit: this.options.audit,
      onEvent: this.options.onEvent,
      loadFallback: this.options.loadFallback,
      // JobHistory alone decides when to compact (journal size, an interval, idle time, close);
      // the store's own trigger stays armed only in name, so that it still finishes a compaction
      // a crash cut short when it opens.
      compaction: { maxJournalBytes: Number.MAX_SAFE_INTEGER, maxJournalRecords: Number.MAX_SAFE_INTEGER },
    });
    this.store = store as DurableStore<unknown, HistoryRecord>;
    return { store, events: store.openEvents };
  }
}
