import type { CommitOptions } from '../storage/durableStore';
import type { QueueRecord, QueueSnapshot } from './jobModel';

/**
 * The queue's persistence, kept this small so that the queue does not care whether it sits on the
 * storage core, a plain journal file, or memory (an in-memory twin with the same contract, for tests).
 */
export interface QueueLog {
  /** The last snapshot (if any) and every record committed after it, in order. */
  load(): Promise<{ snapshot: QueueSnapshot | undefined; records: QueueRecord[] }>;
  /**
   * Resolves once the records are on disk; the records of one call are applied all or none.
   * `onWritten` runs once they are in the file, before the sync, or, for a log that cannot tell,
   * when they are on disk; never when the commit fails first.
   */
  commit(records: readonly QueueRecord[], options?: CommitOptions): Promise<void>;
  /**
   * Replaces snapshot and journal by `snapshot`; commits made after it was taken wait. Only when
   * asked (JobQueue.compact): when to compact on its own is the log's decision, never the queue's
   * (the durable one follows its store's thresholds, DurableStoreOptions.compaction).
   */
  compact(snapshot: QueueSnapshot): Promise<void>;
  close(): Promise<void>;
}

/** The in-memory twin, for scheduler tests. `reopen()` models a restart: what was committed stays. */
export class MemoryQueueLog implements QueueLog {
  private snapshot: QueueSnapshot | undefined;
  private records: QueueRecord[] = [];
  commits = 0;
  /** When set, the next commit fails with it: for storage-failure tests. */
  failNext: Error | undefined;

  async load(): Promise<{ snapshot: QueueSnapshot | undefined; records: QueueRecord[] }> {
    // A structured clone, so the queue cannot mutate what was "on disk".
    return structuredClone({ snapshot: this.snapshot, records: this.records });
  }

  async commit(records: readonly QueueRecord[], options: CommitOptions = {}): Promise<void> {
    await Promise.resolve();
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.commits++;
    this.records.push(...structuredClone(records));
    options.onWritten?.();
  }

  async compact(snapshot: QueueSnapshot): Promise<void> {
    this.snapshot = structuredClone(snapshot);
    this.records = [];
  }

  async close(): Promise<void> {}
}
