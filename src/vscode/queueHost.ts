import { join } from 'node:path';
import * as vscode from 'vscode';
import type { CommandResult, Job, JobState, QueueCommand, QueueFlags } from '../core/queue/jobModel';
import type { SessionRole } from '../core/session/queueSession';
import { DurableQueueLog } from '../core/queue/durableQueueLog';
import { QueueSession } from '../core/session/queueSession';
import type { StorageEvent } from '../core/storage/storeEvents';
import { jobFilePaths } from '../shared/supervisor/node/jobFilePaths';
import { SupervisorRunner } from '../core/supervisors/supervisorRunner';
import type { Logger } from '../core/logger';
import { readSettings } from './settings';
import { CommandIds } from '../shared/commandIds';

export interface QueueHostOptions {
  readonly storageDirectory: string;
  readonly extensionUri: vscode.Uri;
  /** Relative working directories of jobs resolve against it: the first workspace folder. */
  readonly baseDir: string;
  readonly logger: Logger;
}

/**
 * The workspace's queue as the extension sees it: a {@link QueueSession} whose runner is the
 * detached supervisors, so that jobs outlive this extension host. Whichever window holds the lease
 * runs the scheduler; every other window of the same workspace is a client of it and sees the same
 * queue. Closing it releases the lease and leaves running jobs to their supervisors.
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
  private disposed = false;

  private constructor(
    private readonly session: QueueSession,
    readonly jobsDirectory: string,
  ) {
    session.onDidChange((event) => {
      if (event.type === 'jobChanged') this.jobEmitter.fire({ job: event.job, previousState: event.previousState });
      this.changeEmitter.fire();
    });
    session.onDidChangeRole((role) => {
      this.roleEmitter.fire(role);
      this.changeEmitter.fire();
    });
  }

  static async open(options: QueueHostOptions): Promise<QueueHost> {
    const jobsDirectory = join(options.storageDirectory, 'jobs');
    const supervisorScript = vscode.Uri.joinPath(options.extensionUri, 'dist', 'supervisor.js').fsPath;
    const settings = readSettings();
    const session = await QueueSession.open({
      storageDir: options.storageDirectory,
      baseDir: options.baseDir,
      logger: options.logger,
      createLog: (queueDir) => new DurableQueueLog({ directory: queueDir, logger: options.logger, onEvent: (event) => reportStorageEvent(event, options.logger) }),
      createRunner: () =>
        new SupervisorRunner({
          jobsDir: jobsDirectory,
          supervisorScript,
          logLimitBytes: settings.outputLimitBytes,
          stopWithoutHostAfterMs: settings.stopWithoutHostAfterMs,
          killGraceMs: settings.killGraceMs,
          logger: options.logger,
        }),
    });
    return new QueueHost(session, jobsDirectory);
  }

  get role(): SessionRole {
    return this.session.role;
  }

  get jobs(): Job[] {
    return this.session.jobs;
  }

  get flags(): QueueFlags | undefined {
    return this.session.flags;
  }

  getJob(id: string): Job | undefined {
    return this.session.getJob(id);
  }

  /** Sends a command to whichever window holds the lease; resolves once it is on disk there. */
  execute(command: QueueCommand): Promise<CommandResult> {
    return this.session.execute(command);
  }

  /** The output log of the job's latest attempt (undefined before it first ran). */
  outputLogPath(job: Job): string | undefined {
    if (job.attempts === 0) return undefined;
    return jobFilePaths(this.jobsDirectory, job.id, job.attempts).logPath;
  }

  async close(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.dispose();
    this.changeEmitter.dispose();
    this.jobEmitter.dispose();
    this.roleEmitter.dispose();
  }

  dispose(): void {
    void this.close();
  }
}

/**
 * Damage found while the queue opened: logged always, and shown when something was set aside, so
 * that a reset is never silent. The damaged file itself is in `quarantine/` for a person to look at.
 */
function reportStorageEvent(event: StorageEvent, logger: Logger): void {
  switch (event.type) {
    case 'journalTailCut':
      logger.warn(`[queue] the last write before a crash was incomplete and was cut (${event.bytesCut} bytes of ${event.file})`);
      return;
    case 'quarantined':
      logger.error(`[queue] ${event.file} was damaged (${event.detail}) and moved to ${event.quarantinePath}`);
      void vscode.window.showErrorMessage(`Lifeline: part of the saved queue was damaged and set aside in quarantine (${event.reason}); the queue opened from what could be read. The log says what was kept.`, 'Show Log').then((choice) => {
        if (choice) void vscode.commands.executeCommand(CommandIds.showLog);
      });
      return;
    case 'recoveredFromBackup':
      logger.warn(`[queue] opened from the backup of sequence ${event.sequence}, with ${event.journalRecordsReplayed} later record(s) replayed`);
      return;
    case 'stateLost':
      logger.error(`[queue] the saved queue could not be read and no backup holds it: ${event.detail}`);
      return;
    case 'compactionFailed':
      logger.warn(`[queue] compaction failed; the journal keeps growing until the next one: ${event.error.message}`);
      return;
    case 'compacted':
      return;
  }
}
