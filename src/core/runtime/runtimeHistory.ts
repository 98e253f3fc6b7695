import type { Clock } from '../clock';
import { Emitter } from '../emitter';
import { HistoryRecorder, OUTPUT_TAIL_BYTES } from './historyRecorder';
import { JobHistory } from '../history/jobHistory';
import { savePreMigrationCopy } from '../history/preMigration';
import type { Logger } from '../logger';
import type { Job } from '../queue/jobModel';
import type { JobDefinition } from '../../shared/workspaceConfig';
import type { QueueSession } from '../session/queueSession';
import { readOutputTail } from '../supervisors/outputTail';
import type { RuntimeOptions } from './runtimeOptions';
import type { RuntimeReport } from './runtimeReports';
import type { BackupPart } from '../storage/backupTypes';
import type { RecordCipher } from '../storage/cipher';
import { savedSnapshotPart } from './runtimeStores';

/** Idle maintenance (archival, compaction) runs at most this often, and only with no job running. */
const IDLE_CHECK_MS = 60_000;

export interface RuntimeHistoryOptions {
  readonly queue: QueueSession;
  /** The history's folder: `<storage>/history`. */
  readonly directory: string;
  /** Where the supervisors write the jobs' output logs. */
  readonly jobsDirectory: string;
  readonly wasmPath: string;
  readonly logger: Logger;
  /** The runtime's one clock, for the history's retention and compaction times. @default the system clock */
  readonly clock?: Clock;
  /** The runtime's options as they are now (read at each open). */
  readonly options: () => RuntimeOptions;
  readonly report: (report: RuntimeReport) => void;
  /** The history part of the newest good backup, for a history whose snapshot is damaged. */
  readonly loadFallback?: () => Promise<Uint8Array | undefined>;
  /** What the history's files are sealed with (encryption at rest), read at each open. @default plain */
  readonly cipher?: () => RecordCipher | undefined;
  /** Awaited before each open (a re-key a crash cut short is finished first: runtimeEncryption.ts). */
  readonly beforeOpen?: () => Promise<void>;
  /** The automatic backup before a schema migration, given the history as it was saved; awaited before migrating. */
  readonly beforeMigrate?: (parts: readonly BackupPart[]) => Promise<void>;
}

/**
 * The job history of the workspace, open in the process that holds the queue (the history has
 * one writer, like the queue): opened once this runtime becomes the holder, closed when it stops
 * being one. Finished jobs are recorded as the queue announces them; on open, the ones the
 * history missed are recorded first ({@link HistoryRecorder.reconcile}).
 */
export class RuntimeHistory {
  private historyValue: JobHistory | undefined;
  private recorder: HistoryRecorder | undefined;
  /** Opens and closes run one after another: a role that flips quickly never overlaps them. */
  private transition: Promise<void> = Promise.resolve();
  private openFailedValue = false;
  private readonly changeEmitter = new Emitter<void>();
  /** Fires when the history opens or closes, and after each recorded job. */
  readonly onDidChange = this.changeEmitter.event;
  private readonly subscriptions: { dispose(): void }[];
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Closed for a restore in place until `resume`. */
  private suspended = false;

  constructor(private readonly options: RuntimeHistoryOptions) {
    const { queue } = options;
    this.subscriptions = [
      queue.onDidChangeRole(() => this.settle()),
      queue.onDidChange((event) => {
        if (event.type !== 'jobChanged' || !this.recorder || queue.role !== 'holder') return;
        void this.recorder.jobChanged(event.job, event.previousState).then(() => this.changeEmitter.fire());
      }),
    ];
    this.settle();
  }

  /** The open history, or undefined (another process holds the queue, it is opening, or it failed). */
  get history(): JobHistory | undefined {
    return this.historyValue;
  }

  /** The history's folder (`<storage>/history`). */
  get directory(): string {
    return this.options.directory;
  }

  /** The history failed to open; this runtime does not try again (the failure was reported). */
  get openFailed(): boolean {
    return this.openFailedValue;
  }

  /** Resolves with the history once open (undefined when this runtime does not hold the queue). */
  async whenOpen(): Promise<JobHistory | undefined> {
    await this.transition;
    return this.historyValue;
  }

  /**
   * How long a job of this definition is likely to take, from its earlier runs; undefined while
   * the history is not open here or it has no earlier run.
   */
  async estimateDuration(definition: JobDefinition): Promise<number | undefined> {
    const history = this.historyValue;
    if (!history) return undefined;
    const estimate = await history.estimateDuration(
      'stages' in definition
        ? { name: definition.name, stages: definition.stages.map((stage) => ({ name: stage.name, command: stage.command })) }
        : { name: definition.name, command: definition.command },
    );
    return estimate?.estimatedMs;
  }

  /** The history is open exactly while this runtime holds the queue (one writer, like the queue). */
  private settle(): void {
    this.transition = this.transition
      .then(async () => {
        for (;;) {
          const holder = this.options.queue.role === 'holder';
          const wanted = !this.closed && !this.openFailedValue && !this.suspended && holder;
          if (wanted && !this.historyValue) await this.open();
          else if (!wanted && this.historyValue) await this.shut(holder);
          else return;
        }
      })
      .catch((error: unknown) => this.options.logger.error(`[history] ${error instanceof Error ? error.message : String(error)}`));
  }

  private async open(): Promise<void> {
    const { logger, report, directory } = this.options;
    const options = this.options.options();
    let opened: Awaited<ReturnType<typeof JobHistory.open>>;
    try {
      await this.options.beforeOpen?.();
      opened = await JobHistory.open({
        directory,
        cipher: this.options.cipher?.(),
        wasmPath: this.options.wasmPath,
        maxActiveEntries: options.historyMaxActiveEntries,
        retentionDays: options.historyRetentionDays,
        logger,
        clock: this.options.clock,
        loadFallback: this.options.loadFallback,
        // The automatic backups before a schema migration: the image as it was, beside the history,
        // and a backup (with the queue) in backups/, which a damaged history can later open from.
        beforeMigrate: async (image, from, to) => {
          const path = await savePreMigrationCopy(directory, image, from, to, this.options.cipher?.());
          logger.info(`[history] migrating the history from schema ${from} to ${to}; the database as it was is saved in ${path}`);
          const part = await savedSnapshotPart(directory, 'history', `schema ${from}, before the migration to ${to}`);
          await this.options.beforeMigrate?.(part ? [part] : []);
        },
        onStorageEvent: (event) => {
          if (event.type !== 'compacted') logger.warn(`[history] storage: ${JSON.stringify(event)}`);
          report({ type: 'historyStorage', event });
        },
        onLostShard: (shard) => {
          logger.error(`[history] an archive shard was damaged or missing and is in quarantine: ${JSON.stringify(shard)}`);
          report({ type: 'archiveShardLost', shard });
        },
        onArchiveEvent: (event) => {
          if (event.type !== 'leftoverRemoved') report({ type: 'archiveRepaired', event });
        },
      });
    } catch (error) {
      this.openFailedValue = true;
      const message = error instanceof Error ? error.message : String(error);
      logger.error(`[history] could not open the job history: ${message}`);
      report({ type: 'historyOpenFailed', message });
      this.changeEmitter.fire();
      return;
    }
    const { history } = opened;
    if (opened.report.lost) report({ type: 'historyDamaged' });
    this.historyValue = history;
    const queue = this.options.queue;
    this.recorder = new HistoryRecorder(
      history,
      (job) => this.outputTail(job),
      logger,
      () => queue.role === 'holder',
    );
    this.idleTimer = setInterval(() => this.onIdleCheck(), IDLE_CHECK_MS);
    this.idleTimer.unref();
    try {
      await this.recorder.reconcile(queue.jobs);
    } catch (error) {
      logger.error(`[history] could not record the jobs that finished while no window held the history: ${String(error)}`);
    }
    logger.info(`[history] opened with ${history.active.count} active entries and ${history.archive.shards.length} archive shard(s)`);
    this.changeEmitter.fire();
  }

  /**
   * Closes the history. `fold`: compact on the way out, only while this runtime still holds the
   * queue: one that lost it may share the files with the next holder, and its copy is older.
   */
  private async shut(fold: boolean): Promise<void> {
    clearInterval(this.idleTimer);
    const history = this.historyValue;
    const recorder = this.recorder;
    this.recorder = undefined;
    this.historyValue = undefined;
    await recorder?.whenIdle();
    await history?.close({ compact: fold }).catch((error: unknown) => this.options.logger.warn(`[history] closing: ${String(error)}`));
    this.changeEmitter.fire();
  }

  private onIdleCheck(): void {
    if (this.options.queue.jobs.some((job) => job.state === 'running')) return;
    void this.historyValue
      ?.onIdle()
      .catch((error: unknown) => this.options.logger.warn(`[history] idle maintenance failed: ${String(error)}`));
  }

  /** The end of the output log of the job's latest attempt (none before it first ran). */
  private async outputTail(job: Job): Promise<string | undefined> {
    if (job.attempts === 0) return undefined;
    return readOutputTail(this.options.jobsDirectory, job.id, job.attempts, OUTPUT_TAIL_BYTES, this.options.cipher?.());
  }

  /**
   * For a restore in place: once recordings in flight and maintenance have finished, runs
   * `install` on the open history (undefined when it is not open here), then closes it, without
   * compacting, until {@link resume}. Jobs that finish meanwhile are recorded by the reconcile of
   * the next open. Rejects with `install`'s error (the history stays closed until resume).
   */
  suspend(install: (history: JobHistory | undefined) => Promise<void>): Promise<void> {
    const run = this.transition.then(async () => {
      this.suspended = true;
      await this.recorder?.whenIdle();
      await this.historyValue?.whenIdle();
      try {
        await install(this.historyValue);
      } finally {
        if (this.historyValue) await this.shut(false);
      }
    });
    this.transition = run.catch(() => undefined);
    return run;
  }

  /** Opens the history again after {@link suspend} (while this runtime holds the queue), reconciling it with the queue. */
  async resume(): Promise<void> {
    await this.transition;
    this.suspended = false;
    this.settle();
    await this.transition;
  }

  /** Closes the history for good: recordings in flight finish first. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
    this.settle();
    await this.transition;
    this.changeEmitter.dispose();
  }
}
