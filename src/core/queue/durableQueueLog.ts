import { mkdirDurable } from '../storage/atomicFile';
import type { Logger } from '../logger';
import type { RecordCipher } from '../storage/cipher';
import type { DurableCodec } from '../storage/durableRecovery';
import type { CommitOptions, DurableStoreOptions } from '../storage/durableStore';
import { DurableStore } from '../storage/durableStore';
import type { StorageEvent } from '../storage/storeEvents';
import type { QueueRecord, QueueSnapshot } from './jobModel';
import { parseQueueSnapshot, queueRecordSchema } from './jobModel';
import type { QueueLog } from './queueLog';
import { QueueState } from './queueState';

/**
 * The queue on the storage core's durable store (snapshot + journal, torn tails cut, damage
 * quarantined, optional encryption). The store keeps its own copy of the acknowledged state, a
 * QueueState sharing the immutable job objects with the live queue, so that compaction
 * serialises exactly what is on disk while the live queue runs ahead of it.
 * Files: `<directory>/queue.snapshot` and `<directory>/queue.<generation>.journal`.
 */
export const queueCodec: DurableCodec<QueueState, QueueRecord> = {
  empty: () => new QueueState(),
  apply(state, record) {
    state.apply(record);
    return state;
  },
  encodeRecord: (record) => Buffer.from(JSON.stringify(record), 'utf8'),
  decodeRecord: (bytes) => queueRecordSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8'))),
  snapshot(state) {
    // Jobs are never mutated in place, so copying the arrays of references freezes the state.
    const frozen = state.toSnapshot();
    return async () => Buffer.from(JSON.stringify(frozen), 'utf8');
  },
  decodeSnapshot: (payload) => QueueState.fromSnapshot(parseQueueSnapshot(JSON.parse(Buffer.from(payload).toString('utf8')))),
};

export interface DurableQueueLogOptions {
  readonly directory: string;
  readonly cipher?: RecordCipher;
  readonly logger?: Logger;
  readonly onEvent?: (event: StorageEvent) => void;
  readonly loadFallback?: () => Promise<Uint8Array | undefined>;
  /** When the store folds the journal by itself: the one place that decides. @default the store's own thresholds */
  readonly compaction?: DurableStoreOptions<QueueState, QueueRecord>['compaction'];
}

export class DurableQueueLog implements QueueLog {
  private store: DurableStore<QueueState, QueueRecord> | undefined;

  constructor(private readonly options: DurableQueueLogOptions) {}

  /** The underlying store, for metrics and backups. */
  get durableStore(): DurableStore<QueueState, QueueRecord> | undefined {
    return this.store;
  }

  async load(): Promise<{ snapshot: QueueSnapshot | undefined; records: QueueRecord[] }> {
    await mkdirDurable(this.options.directory);
    this.store = await DurableStore.open({
      directory: this.options.directory,
      name: 'queue',
      codec: queueCodec,
      cipher: this.options.cipher,
      logger: this.options.logger,
      onEvent: this.options.onEvent,
      loadFallback: this.options.loadFallback,
      compaction: this.options.compaction,
      // A job starts once its record is in the file: a small write made here, rather than a trip
      // through the thread pool on the way to every start. The sync still runs in the background.
      journal: { writeOnCallingThread: true },
    });
    return { snapshot: this.store.state.toSnapshot(), records: [] };
  }

  commit(records: readonly QueueRecord[], options?: CommitOptions): Promise<void> {
    if (!this.store) return Promise.reject(new Error('The queue log is not loaded.'));
    return this.store.commit(records, options);
  }

  /** The store keeps its own copy of the acknowledged state, so the queue's snapshot is not needed. */
  async compact(): Promise<void> {
    await this.store?.compact();
  }

  async close(): Promise<void> {
    await this.store?.close();
  }
}
