import type { Disposable, Event } from '../emitter';
import { Emitter } from '../emitter';
import type { Logger } from '../logger';
import type { SavingStatus } from '../queue/queueSaving';

/**
 * Whether the queue's changes reach the disk: `saving` while a commit is in flight, `saved` when
 * the last one succeeded (`at`: when, undefined before the first), `notSaving` from the first
 * failed commit until one succeeds with no change of a job kept unsaved.
 */
export type StorageHealth =
  | { readonly state: 'saved'; readonly at?: number }
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

/** What the tracker reads of the holder's queue (JobQueue). */
export interface SavingSource {
  readonly savingStatus: SavingStatus;
  readonly onDidChangeSaving: Event<SavingStatus>;
}

/**
 * The runtime's view of {@link SavingStatus}: it follows the queue of whichever process this
 * runtime is (holder: its JobQueue; client: always `saved`, the holder's disk is the holder's
 * to report) across takeovers. The queue is the one source: it alone knows which failed changes
 * it still keeps in memory. Fires only when the state changes.
 */
export class StorageHealthTracker {
  private readonly emitter: Emitter<StorageHealth>;
  readonly onDidChange: Event<StorageHealth>;
  private current: StorageHealth = { state: 'saved' };
  private subscription: Disposable | undefined;
  private savedAt: number | undefined;

  constructor(logger: Logger) {
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

  /** Follows `queue` (the holder's), or none (a client, or a closed queue). */
  follow(queue: SavingSource | undefined): void {
    this.subscription?.dispose();
    this.subscription = queue?.onDidChangeSaving((status) => this.set(toHealth(status)));
    this.set(queue ? toHealth(queue.savingStatus) : { state: 'saved' });
  }

  private set(next: StorageHealth): void {
    if (next.state === 'saved' && next.at !== undefined) this.savedAt = next.at;
    if (next.state === this.current.state && next.state !== 'notSaving') {
      this.current = next;
      return;
    }
    this.current = next;
    this.emitter.fire(next);
  }

  dispose(): void {
    this.subscription?.dispose();
    this.emitter.dispose();
  }
}

function toHealth(status: SavingStatus): StorageHealth {
  if (status.state === 'notSaving') return { state: 'notSaving', ...describeWriteError(status.error), since: status.since };
  return status.state === 'saved' ? { state: 'saved', at: status.at } : { state: 'saving' };
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
