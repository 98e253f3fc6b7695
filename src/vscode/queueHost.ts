import * as vscode from 'vscode';
import type { AuditOrigin, CommandResult, Job, JobState, QueueCommand, QueueFlags } from '../core/queue/jobModel';
import type { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import type { SessionRole } from '../core/session/queueSession';
import type { StorageHealth } from '../core/runtime/storageHealth';
import type { StorageNotice } from '../shared/queuePanelProtocol';
import type { LowDiskState } from './storageNotices';
import { storageNotices } from './storageNotices';

/**
 * The workspace runtime's queue as the views and commands see it, with VS Code events. The queue
 * itself (lease, supervisors) is the runtime's; closing the runtime closes it.
 */
export class QueueHost implements vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  /** Fires after any durable change of the queue, and when this window's role changes. */
  readonly onDidChange = this.changeEmitter.event;
  private readonly jobEmitter = new vscode.EventEmitter<{ job: Job; previousState: JobState | undefined }>();
  /** Fires for each durable change of one job (in this window and, as a client, the holder's). */
  readonly onDidChangeJob = this.jobEmitter.event;
  private readonly roleEmitter = new vscode.EventEmitter<SessionRole>();
  readonly onDidChangeRole = this.roleEmitter.event;
  private readonly storageEmitter = new vscode.EventEmitter<void>();
  /** Fires when the queue stops or starts saving, and when the disk goes low or has room again. */
  readonly onDidChangeStorage = this.storageEmitter.event;
  private readonly subscriptions: { dispose(): void }[];
  private lowDisk: LowDiskState | undefined;

  constructor(private readonly runtime: WorkspaceRuntime) {
    const session = runtime.queue;
    let notSaving = runtime.storageHealth.state === 'notSaving';
    this.subscriptions = [
      // Every commit moves saving/saved; the views care only when saving fails or works again.
      runtime.onDidChangeStorageHealth((health) => {
        if ((health.state === 'notSaving') === notSaving) return;
        notSaving = health.state === 'notSaving';
        this.fireStorage();
      }),
      runtime.onDidReport((report) => {
        if (report.type !== 'lowDiskSpace') return;
        this.lowDisk = report.low ? { freeBytes: report.freeBytes, thresholdBytes: report.thresholdBytes } : undefined;
        this.fireStorage();
      }),
      session.onDidChange((event) => {
        if (event.type === 'jobChanged') this.jobEmitter.fire({ job: event.job, previousState: event.previousState });
        this.changeEmitter.fire();
      }),
      session.onDidChangeRole((role) => {
        this.roleEmitter.fire(role);
        this.changeEmitter.fire();
      }),
    ];
  }

  private fireStorage(): void {
    this.storageEmitter.fire();
    this.changeEmitter.fire();
  }

  get storageHealth(): StorageHealth {
    return this.runtime.storageHealth;
  }

  /** Fires on every change of {@link storageHealth}, saving and saved included (the status bar's). */
  get onDidChangeSaving(): vscode.Event<StorageHealth> {
    return this.runtime.onDidChangeStorageHealth;
  }

  /** When the queue last reached the disk in this window (undefined in a client window, or before the first write). */
  get lastSavedAt(): number | undefined {
    return this.runtime.lastSavedAt;
  }

  /** What the views show about saving and free space; empty when all is well. */
  get storageNotices(): StorageNotice[] {
    return storageNotices(this.runtime.storageHealth, this.lowDisk, Date.now());
  }

  /** Checks the free space and tries to save now; the notices follow the outcome. */
  retrySaving(): Promise<void> {
    return this.runtime.retrySaving();
  }

  get jobsDirectory(): string {
    return this.runtime.jobsDirectory;
  }

  get role(): SessionRole {
    return this.runtime.queue.role;
  }

  get jobs(): Job[] {
    return this.runtime.queue.jobs;
  }

  get flags(): QueueFlags | undefined {
    return this.runtime.queue.flags;
  }

  getJob(id: string): Job | undefined {
    return this.runtime.queue.getJob(id);
  }

  /**
   * Sends a command to whichever window holds the lease; resolves once it is on disk there.
   * `origin` (the audit log's who) defaults to this window.
   */
  execute(command: QueueCommand, origin?: AuditOrigin): Promise<CommandResult> {
    return this.runtime.queue.execute(command, undefined, origin);
  }

  /** The output log of the job's latest attempt (undefined before it first ran). */
  outputLogPath(job: Job): string | undefined {
    return this.runtime.outputLogPath(job);
  }

  /** Stops forwarding events; the queue itself closes with the runtime. */
  dispose(): void {
    while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
    this.changeEmitter.dispose();
    this.jobEmitter.dispose();
    this.roleEmitter.dispose();
    this.storageEmitter.dispose();
  }
}
