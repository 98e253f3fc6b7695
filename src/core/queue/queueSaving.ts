import type { Clock } from '../clock';
import type { Event } from '../emitter';
import { Emitter } from '../emitter';
import type { Logger } from '../logger';
import { StorageError } from '../storage/errors';
import { JobError } from './jobErrors';

/**
 * Whether the queue's changes reach the disk, for the UI: `saving` while commits are in flight,
 * `saved` once the last one is on disk (`at`: when, undefined before the first), `notSaving` from
 * the first failed commit (`since`) until a commit succeeds with nothing left unsaved. `unsaved`
 * counts jobs whose change (a run's start, stage or exit) is kept in memory and written again.
 */
export type SavingStatus =
  | { readonly state: 'saving' }
  | { readonly state: 'saved'; readonly at: number | undefined }
  | { readonly state: 'notSaving'; readonly error: JobError; readonly since: number; readonly unsaved: number };

/** How often changes kept after a failed commit are written again when nothing else writes. */
export const UNSAVED_RETRY_MS = 5_000;

/** A failed commit as the caller sees it: a full disk is said as such, any other failure is `storageFailed`. */
export function toJobError(error: unknown): JobError {
  if (JobError.is(error)) return error;
  if (StorageError.is(error, 'diskFull')) {
    return new JobError('diskFull', `The queue could not be saved: ${error.message}`, { cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new JobError('storageFailed', `The queue could not be saved: ${detail}`, { cause: error });
}

/** Keeps JobQueue's {@link SavingStatus}; `counts` reads the commits in flight and the jobs kept unsaved. */
export class SavingReporter {
  private notSaving: { error: JobError; since: number } | undefined;
  private lastSavedAt: number | undefined;
  private lastKind: SavingStatus['state'] = 'saved';
  private readonly emitter: Emitter<SavingStatus>;
  readonly onDidChange: Event<SavingStatus>;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly counts: () => { inFlight: number; unsaved: number },
  ) {
    this.emitter = new Emitter<SavingStatus>((error) => this.logger.error(`[queue] a listener failed: ${String(error)}`));
    this.onDidChange = this.emitter.event;
  }

  get status(): SavingStatus {
    const { inFlight, unsaved } = this.counts();
    if (this.notSaving) return { state: 'notSaving', ...this.notSaving, unsaved };
    if (inFlight > 0) return { state: 'saving' };
    return { state: 'saved', at: this.lastSavedAt };
  }

  /** A commit is on disk: saving again once nothing is kept unsaved. */
  succeeded(): void {
    this.lastSavedAt = this.clock.now();
    if (this.notSaving && this.counts().unsaved === 0) {
      this.logger.info('[queue] saving again: every change is on disk');
      this.notSaving = undefined;
    }
    this.update();
  }

  /** A commit failed: said once in the log, at the start of a run of failures. */
  failed(error: JobError): void {
    if (!this.notSaving) this.logger.error(`[queue] not saving: ${error.message}`);
    this.notSaving = { error, since: this.notSaving?.since ?? this.clock.now() };
    this.update();
  }

  /** Fires when the kind of status changed. */
  update(): void {
    const status = this.status;
    if (status.state === this.lastKind) return;
    this.lastKind = status.state;
    this.emitter.fire(status);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
