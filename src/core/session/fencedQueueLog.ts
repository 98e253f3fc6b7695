import { JobError } from '../queue/jobErrors';
import type { CommitOptions } from '../storage/durableStore';
import type { QueueRecord, QueueSnapshot } from '../queue/jobModel';
import type { QueueLog } from '../queue/queueLog';

/**
 * A log that refuses to write once its holder may have lost the lease: a holder that was frozen
 * (SIGSTOP, a debugger, a long pause) past the stale limit may have been replaced, and must not
 * append to the journal the new holder now writes. `stillHolder` is cheap while heartbeats are on
 * time and reads the lease only when they are late. The window between the check and the write
 * remains; closing it needs a fencing token checked by the store itself.
 */
export class FencedQueueLog implements QueueLog {
  constructor(
    private readonly inner: QueueLog,
    private readonly stillHolder: () => boolean,
  ) {}

  load(): Promise<{ snapshot: QueueSnapshot | undefined; records: QueueRecord[] }> {
    return this.inner.load();
  }

  commit(records: readonly QueueRecord[], options?: CommitOptions): Promise<void> {
    if (!this.stillHolder()) {
      return Promise.reject(new JobError('leaseLost', 'This process no longer holds the queue lease; the command goes to the new holder.'));
    }
    return this.inner.commit(records, options);
  }

  compact(snapshot: QueueSnapshot): Promise<void> {
    if (!this.stillHolder()) return Promise.reject(new JobError('leaseLost', 'This process no longer holds the queue lease.'));
    return this.inner.compact(snapshot);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
