import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import { HistoryHost } from './historyHost';
import { QueueHost } from './queueHost';
import { RecoveryController } from './recovery';
import { onDidChangeSettings, readSettings } from './settings';
import { WorkspaceJobs } from './workspaceJobs';

/**
 * Everything Lifeline runs for the open folder once it may run anything: the queue (lease holder
 * or client), the job definitions, recovery, and the settings and context keys that follow the
 * queue. Opened on activation in a trusted workspace, or when trust is granted.
 */
export class WorkspaceSession implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  readonly history: HistoryHost;

  private constructor(
    readonly queue: QueueHost,
    readonly jobs: WorkspaceJobs,
    storageDirectory: string,
    extensionUri: vscode.Uri,
    private readonly logger: Logger,
  ) {
    this.history = new HistoryHost(queue, storageDirectory, extensionUri, logger);
    this.disposables.push(
      jobs,
      new RecoveryController(queue, logger),
      queue.onDidChange(() => this.updateContext()),
      queue.onDidChangeRole((role) => {
        if (role === 'holder') void this.applyConcurrency();
      }),
      onDidChangeSettings(['queue.concurrency'], () => void this.applyConcurrency()),
    );
    if (queue.role === 'holder') void this.applyConcurrency();
    this.updateContext();
  }

  static async open(options: { storageDirectory: string; extensionUri: vscode.Uri; folder: vscode.WorkspaceFolder; logger: Logger }): Promise<WorkspaceSession> {
    const jobs = new WorkspaceJobs(options.folder, options.logger, options.storageDirectory);
    try {
      const queue = await QueueHost.open({ storageDirectory: options.storageDirectory, extensionUri: options.extensionUri, baseDir: options.folder.uri.fsPath, logger: options.logger });
      options.logger.info(`[queue] opened as ${queue.role} with ${queue.jobs.length} job(s)`);
      return new WorkspaceSession(queue, jobs, options.storageDirectory, options.extensionUri, options.logger);
    } catch (error) {
      jobs.dispose();
      throw error;
    }
  }

  /** The setting is the truth; the queue's flag follows it (written by the holder only). */
  private async applyConcurrency(): Promise<void> {
    const limit = readSettings().concurrency;
    if (this.queue.role !== 'holder' || this.queue.flags?.concurrency === limit) return;
    await this.queue.execute({ type: 'setConcurrency', limit }).then(
      () => this.logger.info(`[queue] concurrency set to ${limit}`),
      (error: unknown) => this.logger.warn(`[queue] could not set the concurrency: ${String(error)}`),
    );
  }

  private readonly contextKeys = new Map<string, boolean>();

  /** Context keys for menus; set only when they change, since progress changes the queue often. */
  private updateContext(): void {
    this.setContext('lifeline.queuePaused', this.queue.flags?.paused ?? false);
    this.setContext('lifeline.hasInterrupted', this.queue.jobs.some((job) => job.state === 'interrupted'));
  }

  private setContext(key: string, value: boolean): void {
    if (this.contextKeys.get(key) === value) return;
    this.contextKeys.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  async close(): Promise<void> {
    while (this.disposables.length) this.disposables.pop()?.dispose();
    // The history first: jobs that finish meanwhile are recorded by the next holder's reconcile.
    await this.history.close();
    await this.queue.close();
  }

  dispose(): void {
    void this.close();
  }
}
