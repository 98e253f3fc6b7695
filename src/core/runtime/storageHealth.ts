import type { Clock } from '../clock';
import { Emitter } from '../emitter';
import type { Event } from '../emitter';
import type { Logger } from '../logger';
import type { QueueRecord, QueueSnapshot } from '../queue/jobModel';
import type { QueueLog } from '../queue/queueLog';
import type { CommitOptions } from '../storage/durableStore';

/**
 * Whether the queue's changes reach the disk: `saving` while a commit is in flight, `saved` when
 * the last one succeeded, `notSaving` from the first failed commit until one succeeds again.
 */
export type StorageHealth =
  | { readonly state: 'saved' }
  | { readonly state: 'saving' }
  | {
      readonly state: 'notSaving';
      /** The failure as a person reads it ("no space left on device"). */
      readonly reason: string;
      /** The errno code when there is one (ENOSPC, EIO, EACCES). */
      readonly code: string | undefined;
      /** When saving first failed (ms since the epoch). */
      readonly since: number;
    };

/**
 * Follows the outcome of each commit (and compaction) of the queue's log. It observes the log
 * from outside ({@link observeQueueLog}), so the queue's own handling of a failed commit stays the
 * queue's. Fires only when the state changes.
 */
export class StorageHealthTracker {
  private readonly emitter: Emitter<StorageHealth>;
  readonly onDidChange: Event<StorageHealth>;
  private current: StorageHealth = { state: 'saved' };
  private inFlight = 0;
  private savedAt: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.emitter = new Emitter<StorageHealth>((error) => logger.error(`[storage] a health listener failed: ${String(error)}`));
    this.onDidChange = this.emitter.event;
  }

  get health(): StorageHealth {
    return this.current;
  }

  /** When the last write succeeded (ms since the epoch); undefined before the first. */
  get lastSavedAt(): number | undefined {
    return this.savedAt;
  }

  /** Runs one write and records its outcome; the result and the error pass through unchanged. */
  async track<T>(write: () => Promise<T>): Promise<T> {
    this.inFlight++;
    // A failure stays on show until a write succeeds: a write starting proves nothing.
    if (this.current.state === 'saved') this.set({ state: 'saving' });
    try {
      const result = await write();
      this.inFlight--;
      this.savedAt = this.clock.now();
      if (this.current.state === 'notSaving') this.logger.info('[storage] the queue is saving again');
      this.set(this.inFlight > 0 ? { state: 'saving' } : { state: 'saved' });
      return result;
    } catch (error) {
      this.inFlight--;
      if (this.current.state !== 'notSaving') {
        const { reason, code } = describeWriteError(error);
        this.logger.error(`[storage] the queue could not be saved: ${reason}`);
        this.set({ state: 'notSaving', reason, code, since: this.clock.now() });
      }
      throw error;
    }
  }

  private set(next: StorageHealth): void {
    if (next.state === this.current.state && next.state !== 'notSaving') return;
    this.current = next;
    this.emitter.fire(next);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}

/** The queue's log, with every commit and compaction reported to `tracker`. */
export function observeQueueLog(log: QueueLog, tracker: StorageHealthTracker): QueueLog {
  return {
    load: () => log.load(),
    commit: (records: readonly QueueRecord[], options?: CommitOptions) => tracker.track(() => log.commit(records, options)),
    compact: (snapshot: QueueSnapshot) => tracker.track(() => log.compact(snapshot)),
    close: () => log.close(),
  };
}

const CODE_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EIO: 'the disk reported an I/O error',
  EACCES: 'permission to write the storage folder was denied',
  EPERM: 'permission to write the storage folder was denied',
  EROFS: 'the disk is read-only',
};

/** A short reason for a person, from the innermost error with an errno code (a typed error's cause). */
export function describeWriteError(error: unknown): { reason: string; code: string | undefined } {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code in CODE_REASONS) return { reason: `${CODE_REASONS[code]} (${code})`, code };
    current = (current as { cause?: unknown }).cause;
  }
  return { reason: error instanceof Error ? error.message : String(error), code: undefined };
}
