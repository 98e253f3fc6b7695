import { open } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { HistoryRecorder, OUTPUT_TAIL_BYTES } from '../core/history/historyRecorder';
import { JobHistory } from '../core/history/jobHistory';
import type { Job } from '../core/queue/jobModel';
import type { Logger } from '../core/logger';
import { savePreMigrationCopy } from '../core/history/preMigration';
import type { QueueHost } from './queueHost';
import { readSettings } from './settings';
import { CommandIds } from '../shared/commandIds';

/** Idle maintenance (archival, compaction) runs at most this often, and only with no job running. */
const IDLE_CHECK_MS = 60_000;

/**
 * The job history of the workspace, open in the window that holds the queue (the history has one
 * writer, like the queue): opened off the activation path once this window becomes the holder,
 * closed when it stops being one. Finished jobs are recorded as the queue announces them.
 */
export class HistoryHost implements vscode.Disposable {
  private historyValue: JobHistory | undefined;
  private recorder: HistoryRecorder | undefined;
  /** Opens and closes run one after another: a role that flips quickly never overlaps them. */
  private transition: Promise<void> = Promise.resolve();
  /** An open that failed is not retried in this window (the error was shown). */
  private openFailed = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  /** Fires when the history opens or closes, and after each recorded job. */
  readonly onDidChange = this.changeEmitter.event;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly queue: QueueHost,
    private readonly storageDirectory: string,
    private readonly extensionUri: vscode.Uri,
    private readonly logger: Logger,
  ) {
    this.disposables.push(
      queue.onDidChangeRole(() => this.settle()),
      queue.onDidChangeJob(({ job, previousState }) => {
        if (!this.recorder || this.queue.role !== 'holder') return;
        void this.recorder.jobChanged(job, previousState).then(() => this.changeEmitter.fire());
      }),
    );
    this.settle();
  }

  /** The open history, or undefined (another window holds the queue, or it is still opening). */
  get history(): JobHistory | undefined {
    return this.historyValue;
  }

  /** Why there is no history here, for the History panel. */
  get unavailableReason(): string | undefined {
    if (this.historyValue) return undefined;
    if (this.queue.role === 'client') return 'The history is open in the other window that runs this workspace’s queue.';
    if (this.openFailed) return 'The history could not be opened; the log says why.';
    return 'The history is opening.';
  }

  /** Resolves with the history once open (undefined when this window does not hold the queue). */
  async whenOpen(): Promise<JobHistory | undefined> {
    await this.transition;
    return this.historyValue;
  }

  /** The history is open exactly while this window holds the queue (one writer, like the queue). */
  private settle(): void {
    this.transition = this.transition
      .then(async () => {
        for (;;) {
          const wanted = !this.closed && !this.openFailed && this.queue.role === 'holder';
          if (wanted && !this.historyValue) await this.open();
          else if (!wanted && this.historyValue) await this.shut(this.queue.role === 'holder');
          else return;
        }
      })
      .catch((error: unknown) => this.logger.error(`[history] ${error instanceof Error ? error.message : String(error)}`));
  }

  private async open(): Promise<void> {
    const settings = readSettings();
    let opened: Awaited<ReturnType<typeof JobHistory.open>>;
    try {
      opened = await JobHistory.open({
        directory: join(this.storageDirectory, 'history'),
        wasmPath: vscode.Uri.joinPath(this.extensionUri, 'dist', 'sql-wasm.wasm').fsPath,
        maxActiveEntries: settings.historyMaxActiveEntries,
        retentionDays: settings.historyRetentionDays,
        logger: this.logger,
        // The automatic backup before a schema migration: the image as it was, beside the history.
        beforeMigrate: async (image, from, to) => {
          const path = await savePreMigrationCopy(join(this.storageDirectory, 'history'), image, from, to);
          this.logger.info(`[history] migrating the history from schema ${from} to ${to}; the database as it was is saved in ${path}`);
        },
        onStorageEvent: (event) => {
          if (event.type !== 'compacted') this.logger.warn(`[history] storage: ${JSON.stringify(event)}`);
        },
        onLostShard: (lost) => {
          this.logger.error(`[history] an archive shard was damaged or missing and is in quarantine: ${JSON.stringify(lost)}`);
          void vscode.window.showWarningMessage('Lifeline: part of the archived job history was damaged and set aside in quarantine. Restore a backup to bring it back.', 'Show Log').then((choice) => {
            if (choice) void vscode.commands.executeCommand(CommandIds.showLog);
          });
        },
      });
    } catch (error) {
      this.openFailed = true;
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`[history] could not open the job history: ${message}`);
      void vscode.window.showErrorMessage(`Lifeline: the job history could not be opened: ${message}`, 'Show Log').then((choice) => {
        if (choice) void vscode.commands.executeCommand(CommandIds.showLog);
      });
      this.changeEmitter.fire();
      return;
    }
    const { history, report } = opened;
    if (report.lost) void vscode.window.showErrorMessage('Lifeline: the saved job history was damaged; it was set aside in quarantine and the history opened from what could be read. See the log for what was lost.');
    this.historyValue = history;
    this.recorder = new HistoryRecorder(history, (job) => this.outputTail(job), this.logger, () => this.queue.role === 'holder');
    this.idleTimer = setInterval(() => this.onIdleCheck(), IDLE_CHECK_MS);
    this.idleTimer.unref();
    try {
      await this.recorder.reconcile(this.queue.jobs);
    } catch (error) {
      this.logger.error(`[history] could not record the jobs that finished while no window held the history: ${String(error)}`);
    }
    this.logger.info(`[history] opened with ${history.active.count} active entries and ${history.archive.shards.length} archive shard(s)`);
    this.changeEmitter.fire();
  }

  /**
   * Closes the history. `fold`: compact on the way out, only while this window still holds the
   * queue: one that lost it may share the files with the next holder, and its copy is older.
   */
  private async shut(fold: boolean): Promise<void> {
    clearInterval(this.idleTimer);
    const history = this.historyValue;
    const recorder = this.recorder;
    this.recorder = undefined;
    this.historyValue = undefined;
    await recorder?.whenIdle();
    await history?.close({ compact: fold }).catch((error: unknown) => this.logger.warn(`[history] closing: ${String(error)}`));
    this.changeEmitter.fire();
  }

  private onIdleCheck(): void {
    if (this.queue.jobs.some((job) => job.state === 'running')) return;
    void this.historyValue?.onIdle().catch((error: unknown) => this.logger.warn(`[history] idle maintenance failed: ${String(error)}`));
  }

  /** The end of the job's output log, on a line boundary. */
  private async outputTail(job: Job): Promise<string | undefined> {
    const path = this.queue.outputLogPath(job);
    if (!path) return undefined;
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, OUTPUT_TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      const text = buffer.toString('utf8');
      return size > length ? text.slice(text.indexOf('\n') + 1) : text;
    } finally {
      await file.close();
    }
  }

  /** Closes the history for good (deactivation): recordings in flight finish first. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.disposables.length) this.disposables.pop()?.dispose();
    this.settle();
    await this.transition;
  }

  dispose(): void {
    void this.close().finally(() => this.changeEmitter.dispose());
  }
}
