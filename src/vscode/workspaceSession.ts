import * as vscode from 'vscode';
import type { Logger } from '../core/logger';
import type { AuditOrigin } from '../core/queue/jobModel';
import { WorkspaceRuntime } from '../core/runtime/workspaceRuntime';
import type { EncryptionKeyStore } from '../core/runtime/runtimeEncryption';
import type { RuntimeOptions } from '../core/runtime/runtimeOptions';
import type { WindowPresence } from '../core/runtime/windowHandOver';
import { askHolderForItsWindow } from '../core/runtime/windowHandOver';
import { HistoryHost } from './historyHost';
import { QueueHost } from './queueHost';
import { RecoveryController } from './recovery';
import { testStorageFaults } from './testStorageFaults';
import { followStorageHealth, showRuntimeReport } from './runtimeReports';
import { onDidChangeSettings, readSettings, SETTING_SPECS } from './settings';
import type { SettingKey } from './settings';
import { WorkspaceJobs } from './workspaceJobs';

/**
 * Everything Lifeline runs for the open folder once it may run anything: the workspace runtime
 * (queue, supervisors, history, recovery policy; src/core/runtime) and what this window adds to
 * it: the job definitions, the recovery prompts, the notifications, the context keys, and the
 * settings as the runtime's options. Opened on activation in a trusted workspace, or when trust
 * is granted.
 */
export class WorkspaceSession implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  readonly queue: QueueHost;
  readonly history: HistoryHost;

  private constructor(
    readonly runtime: WorkspaceRuntime,
    readonly jobs: WorkspaceJobs,
    shareOptions: ((options: RuntimeOptions) => void) | undefined,
  ) {
    this.queue = new QueueHost(runtime);
    this.history = new HistoryHost(runtime.history, () => runtime.queue.role);
    this.disposables.push(
      jobs,
      this.queue.onDidChange(() => this.updateContext()),
      onDidChangeSettings(Object.keys(SETTING_SPECS) as SettingKey[], () => {
        runtime.updateOptions(readSettings());
        shareOptions?.(runtime.options);
      }),
      followStorageHealth(runtime.onDidChangeStorageHealth),
    );
    this.updateContext();
    shareOptions?.(runtime.options);
  }

  static async open(options: {
    storageDirectory: string;
    workspaceKey: string;
    extensionUri: vscode.Uri;
    folder: vscode.WorkspaceFolder;
    logger: Logger;
    /** This window, as the audit log names it. */
    origin?: AuditOrigin;
    /** Where the data key is kept (SecretStorage): encryption at rest. */
    keyStore?: EncryptionKeyStore;
    /** Told the options now and after each change of the settings (the record `lifeline` reads). */
    shareOptions?: (options: RuntimeOptions) => void;
    /** This window, for another window that opens as a client and asks whether it is still there. */
    windowPresence?: WindowPresence;
  }): Promise<WorkspaceSession> {
    const jobs = new WorkspaceJobs(options.folder, options.logger, options.storageDirectory);
    const recovery = new RecoveryController();
    // Undefined outside the integration tests' host (see testStorageFaults.ts).
    const faults = testStorageFaults();
    try {
      const runtime = await WorkspaceRuntime.open({
        storageDirectory: options.storageDirectory,
        workspaceKey: options.workspaceKey,
        baseDir: options.folder.uri.fsPath,
        logger: options.logger,
        options: readSettings(),
        role: 'extension',
        origin: options.origin,
        keyStore: options.keyStore,
        appVersion: String(vscode.extensions.getExtension('lifeline.lifeline')?.packageJSON?.version ?? 'unknown'),
        supervisorScript: vscode.Uri.joinPath(options.extensionUri, 'dist', 'supervisor.js').fsPath,
        sqlWasmPath: vscode.Uri.joinPath(options.extensionUri, 'dist', 'sql-wasm.wasm').fsPath,
        onDidReport: (report) => {
          showRuntimeReport(report);
          recovery.handle(report);
        },
        overrides: faults && { freeBytes: faults.freeBytes },
        windowPresence: options.windowPresence,
      });
      // A client: is the holder's window still there? One that is gone hands the queue over.
      if (runtime.queue.role === 'client') {
        void askHolderForItsWindow((service, body) => runtime.queue.request(service, body), options.logger);
      }
      const session = new WorkspaceSession(runtime, jobs, options.shareOptions);
      recovery.queue = session.queue;
      return session;
    } catch (error) {
      jobs.dispose();
      throw error;
    }
  }

  private readonly contextKeys = new Map<string, boolean>();

  /** Context keys for menus; set only when they change, since progress changes the queue often. */
  private updateContext(): void {
    this.setContext('lifeline.queuePaused', this.queue.flags?.paused ?? false);
    this.setContext(
      'lifeline.hasInterrupted',
      this.queue.jobs.some((job) => job.state === 'interrupted'),
    );
  }

  private setContext(key: string, value: boolean): void {
    if (this.contextKeys.get(key) === value) return;
    this.contextKeys.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  }

  async close(): Promise<void> {
    while (this.disposables.length) this.disposables.pop()?.dispose();
    // The runtime closes the history first, then the queue; the views see both go.
    await this.runtime.close();
    this.history.dispose();
    this.queue.dispose();
  }

  dispose(): void {
    void this.close();
  }
}
