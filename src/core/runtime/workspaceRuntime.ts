import { join } from 'node:path';
import type { Disposable } from '../emitter';
import { Emitter } from '../emitter';
import { DurableQueueLog } from '../queue/durableQueueLog';
import type { Job } from '../queue/jobModel';
import type { JobRunner } from '../queue/jobRunner';
import { QueueSession } from '../session/queueSession';
import type { DurableStore } from '../storage/durableStore';
import { systemClock } from '../clock';
import { jobFilePaths } from '../../shared/supervisor/node/jobFilePaths';
import { createSupervisorRunner } from './runtimeRunner';
import { formatBytes, LowDiskMonitor } from './lowDiskMonitor';
import type { LowDiskChange } from './lowDiskMonitor';
import { RecoveryRunner } from './recoveryRunner';
import { convertJobFiles } from '../supervisors/convertJobFiles';
import { cipherFor } from '../storage/reseal';
import type { RuntimeContext, RuntimeRole } from './runtimeContext';
import { defaultOrigin } from './runtimeContext';
import { RuntimeAudit } from './runtimeAudit';
import { RuntimeCleanup } from './runtimeCleanup';
import { RuntimeHistory } from './runtimeHistory';
import { DEFAULT_RUNTIME_OPTIONS } from './runtimeOptions';
import type { RuntimeOptions } from './runtimeOptions';
import type { RuntimeReport } from './runtimeReports';
import { RuntimeBackups } from './runtimeBackups';
import { ReportedEventLog } from './reportedEvents';
import { liveStores } from './runtimeStores';
import { RuntimeState } from './runtimeState';
import { WINDOW_SERVICE, windowServiceHandler } from './windowHandOver';
import { STATE_SERVICE } from '../state/stateProtocol';
import { openStateNamespace } from '../state/extensionState';
import type { ExtensionState, StateNamespaceOptions } from '../state/extensionState';
import { StorageHealthTracker } from './storageHealth';
import { restoreInPlace } from './runtimeRestore';
import type { RestoreInPlaceResult } from './runtimeRestore';
import type { BackupInfo } from '../storage/backupManager';
import { BACKUP_SERVICE, backupServiceHandler, requestBackupCommand, runBackupCommand, runtimeBackupActions } from './backupService';
import type { BackupCommand, BackupReplies } from './backupService';
import type { StorageHealth } from './storageHealth';
import { logQueueStorageEvent } from './queueStorageLog';
import { RuntimeEncryption } from './runtimeEncryption';
import type { RekeyTargets } from './runtimeEncryption';

/** The scheduler's hold while the disk is low (JobQueue.setHold). */
const LOW_DISK_HOLD = 'lowDiskSpace';

/** A part the next issues add to the runtime; closed before the history and the queue. */
export interface RuntimeService {
  close(): Promise<void>;
}

/**
 * The places the next issues fill, each opened after the queue and closed before the history.
 * `backups` is always there (it follows the role: it writes only while this process holds the queue).
 */
export interface RuntimeServices {
  /** The workspace's state store (other extensions' namespaces: docs/state-api.md), open while this process holds the queue. */
  stateStore?: RuntimeState;
  /** Scheduled backups of the queue, the history and the state store, and restore (docs/backups.md). */
  backups?: RuntimeBackups;
  /** Health checks of the storage folder, reported as runtime reports. */
  health?: RuntimeService;
  /** The audit log: `record` an action (durable when it resolves), `recent(n)`, export (docs/audit.md). */
  audit?: RuntimeAudit;
  /** Clean Up Now and the periodic cleanup of job files, finished jobs, quarantine and backups (docs/cleanup.md). */
  cleanup?: RuntimeCleanup;
}

/**
 * Everything Lifeline runs for one workspace, with nothing of VS Code in it: the queue (lease
 * holder or client of the process that holds it), its runner (the detached supervisors), the
 * job history and the link from finished jobs to it, the recovery policy and the concurrency
 * option. The extension, a terminal command, an agent server, the tests and the benchmarks all
 * open a workspace through it. docs/runtime.md says what it owns and in which order it closes.
 */
export class WorkspaceRuntime {
  private readonly reportEmitter: Emitter<RuntimeReport>;
  /** Damage found, the history failing, jobs to ask about: see {@link RuntimeReport}. */
  readonly onDidReport: Emitter<RuntimeReport>['event'];
  readonly history: RuntimeHistory;
  readonly services: RuntimeServices = {};
  private readonly subscriptions: Disposable[];
  /** The recovery policy, run over interrupted jobs while this process holds the queue. */
  private readonly recovery: RecoveryRunner;
  private closing: Promise<void> | undefined;
  private readonly lowDisk: LowDiskMonitor;
  /**
   * Whether the queue's commits reach the disk (in the process that holds it; a client's stays
   * `saved`). Fires when the state changes; see {@link StorageHealth}.
   */
  readonly onDidChangeStorageHealth: StorageHealthTracker['onDidChange'];

  private constructor(
    readonly queue: QueueSession,
    private readonly context: RuntimeContext,
    reportEmitter: Emitter<RuntimeReport>,
    /** Shared with the queue's runner factory: a runner made later (a takeover) gets the options of then. */
    private readonly current: { options: RuntimeOptions },
    backups: RuntimeBackups,
    private readonly queueLog: () => DurableQueueLog | undefined,
    private readonly storageHealthTracker: StorageHealthTracker,
    /** Damage, repairs and losses reported since the runtime opened, for the Storage Health report. */
    readonly storageEvents: ReportedEventLog,
    state: RuntimeState,
    /** Encryption at rest: the key the stores use, its status, turning it on or off (docs/encryption.md). */
    readonly encryption: RuntimeEncryption,
  ) {
    this.reportEmitter = reportEmitter;
    this.onDidReport = reportEmitter.event;
    this.onDidChangeStorageHealth = storageHealthTracker.onDidChange;
    this.recovery = new RecoveryRunner(
      queue,
      () => this.current.options.recoveryPolicy,
      context.logger,
      (report) => reportEmitter.fire(report),
    );
    this.lowDisk = new LowDiskMonitor({
      directory: context.storageDirectory,
      minFreeMB: () => this.current.options.storageMinFreeMB,
      clock: context.clock ?? systemClock,
      logger: context.logger,
      freeBytes: context.overrides?.freeBytes,
    });
    this.history = new RuntimeHistory({
      queue,
      directory: join(context.storageDirectory, 'history'),
      jobsDirectory: this.jobsDirectory,
      wasmPath: context.sqlWasmPath,
      logger: context.logger,
      clock: context.clock,
      options: () => this.current.options,
      report: (report) => this.reportEmitter.fire(report),
      loadFallback: backups.loadFallback('history'),
      beforeMigrate: (parts) => backups.beforeMigration(parts).then(() => undefined),
      cipher: () => encryption.cipher,
      beforeOpen: () => encryption.beforeHistoryOpens(join(context.storageDirectory, 'history')),
    });
    this.services.backups = backups;
    this.services.stateStore = state;
    state.bind(queue);
    backups.bind(
      () => liveStores(queueLog(), this.history.history, state.store?.durable),
      () => Promise.all([this.history.whenOpen(), state.whenOpen()]),
    );
    backups.follow(queue.role === 'holder');
    storageHealthTracker.follow(queue.localQueue);
    encryption.bind(() => this.rekeyTargets());
    this.services.audit = new RuntimeAudit({
      directory: join(context.storageDirectory, 'audit'),
      queue,
      origin: context.origin ?? defaultOrigin(context.role),
      logger: context.logger,
      clock: context.clock,
      flushDelayMs: context.overrides?.auditFlushDelayMs,
    });
    this.services.cleanup = new RuntimeCleanup({
      storageDirectory: context.storageDirectory,
      queue,
      backups,
      audit: this.services.audit,
      history: () => this.history.history,
      logger: context.logger,
      clock: context.clock,
      options: () => this.current.options,
    });
    this.subscriptions = [
      // The holder's JobQueue, also when a restore reopens it under the same role.
      queue.onDidChangeLocalQueue((local) => storageHealthTracker.follow(local)),
      queue.onDidChangeRole((role) => {
        backups.follow(role === 'holder');
        if (role !== 'holder') return;
        // The hold lives in the queue's memory: a queue taken over starts without it.
        this.applyLowDiskHold();
        this.recovery.schedule();
        void this.applyConcurrency();
        this.finishPendingEncryption();
      }),
      this.lowDisk.onDidChange((change) => this.onLowDiskChange(change)),
      // A failed commit may be the disk filling up: look now rather than at the next interval.
      storageHealthTracker.onDidChange((health) => {
        if (health.state === 'notSaving') void this.lowDisk.check();
      }),
      queue.onDidChange((event) => {
        if (this.recovery.hasFresh()) this.recovery.schedule();
        // A run that went on in the old form while encryption was turned on or off: convert it now it ended.
        if (event.type === 'jobChanged' && event.previousState === 'running' && this.encryption.status.converting) {
          this.finishPendingEncryption();
        }
      }),
    ];
    if (queue.role === 'holder') {
      this.recovery.schedule();
      void this.applyConcurrency();
      this.finishPendingEncryption();
    }
    this.lowDisk.start();
  }

  /** Opens the workspace: takes the queue's lease or connects to its holder, then follows the role. */
  static async open(context: RuntimeContext): Promise<WorkspaceRuntime> {
    const { logger } = context;
    const reportEmitter = new Emitter<RuntimeReport>((error) => logger.error(`[runtime] a report listener failed: ${String(error)}`));
    if (context.onDidReport) reportEmitter.event(context.onDidReport);
    const storageEvents = new ReportedEventLog(context.clock);
    reportEmitter.event((report) => storageEvents.add(report));
    const options: RuntimeOptions = { ...DEFAULT_RUNTIME_OPTIONS, ...context.options };
    const current = { options };
    // First: data encrypted with a key this process lacks is never opened (so never re-created empty).
    const encryption = await RuntimeEncryption.load(context.storageDirectory, context.keyStore, logger, context.clock);
    const jobsDirectory = join(context.storageDirectory, 'jobs');
    // Before the queue opens: a queue whose snapshot is damaged asks it for the newest good backup.
    let queueLog: DurableQueueLog | undefined;
    const opened: { queue?: QueueSession; runtime?: WorkspaceRuntime } = {};
    const backups = new RuntimeBackups({
      directory: join(context.storageDirectory, 'backups'),
      isHolder: () => opened.queue?.role === 'holder',
      logger,
      clock: context.clock,
      options: () => current.options,
      appVersion: context.appVersion ?? 'unknown',
      cipher: encryption.cipher,
    });
    const storageHealth = new StorageHealthTracker(logger);
    const state = new RuntimeState({
      directory: join(context.storageDirectory, 'state'),
      logger,
      clock: context.clock,
      report: (report) => reportEmitter.fire(report),
      loadFallback: backups.loadFallback('state'),
      cipher: () => encryption.cipher,
      beforeMigrate: (info) => {
        logger.info(`[state] backing up before migrating "${info.namespace}" from version ${info.fromVersion} to ${info.toVersion}`);
        return backups.beforeMigration([]).then(() => undefined);
      },
    });
    const queue = await QueueSession.open({
      storageDir: context.storageDirectory,
      baseDir: context.baseDir,
      logger,
      clock: context.clock,
      ...context.overrides?.lease,
      origin: context.origin ?? defaultOrigin(context.role),
      services: {
        [STATE_SERVICE]: state.handle,
        [BACKUP_SERVICE]: backupServiceHandler(() => opened.runtime && runtimeBackupActions(opened.runtime)),
        [WINDOW_SERVICE]: windowServiceHandler(context.windowPresence, logger),
      },
      createLog: (queueDir) =>
        (queueLog = new DurableQueueLog({
          directory: queueDir,
          logger,
          cipher: encryption.cipher,
          loadFallback: backups.loadFallback('queue'),
          onEvent: (event) => {
            logQueueStorageEvent(event, logger);
            reportEmitter.fire({ type: 'queueStorage', event });
          },
        })),
      // Asked each time this process becomes the holder: the options as they are then.
      createRunner: (): JobRunner =>
        context.overrides?.createRunner?.(jobsDirectory) ?? createSupervisorRunner(jobsDirectory, context, current.options, encryption),
    });
    logger.info(`[queue] opened as ${queue.role} with ${queue.jobs.length} job(s)`);
    logger.info(`[runtime] ${context.workspaceKey} opened by ${context.role}`);
    opened.queue = queue;
    return (opened.runtime = new WorkspaceRuntime(
      queue,
      context,
      reportEmitter,
      current,
      backups,
      () => queueLog,
      storageHealth,
      storageEvents,
      state,
      encryption,
    ));
  }

  get role(): RuntimeRole {
    return this.context.role;
  }

  get storageDirectory(): string {
    return this.context.storageDirectory;
  }

  /** Where the supervisors keep each job's journal and output log. */
  get jobsDirectory(): string {
    return join(this.context.storageDirectory, 'jobs');
  }

  get options(): RuntimeOptions {
    return this.current.options;
  }

  /** Whether the queue's changes reach the disk now. */
  get storageHealth(): StorageHealth {
    return this.storageHealthTracker.health;
  }

  /** When a write of the queue last reached the disk in this process (undefined before the first). */
  get lastSavedAt(): number | undefined {
    return this.storageHealthTracker.lastSavedAt;
  }

  /**
   * The durable stores open in this process now: the queue and the active history while this
   * process holds the queue, and the state store when the runtime has one (for the health report).
   */
  openStores(): readonly DurableStore<unknown, unknown>[] {
    return liveStores(this.queueLog(), this.history.history, this.services.stateStore?.store?.durable).map(
      (entry) => entry.store as DurableStore<unknown, unknown>,
    );
  }

  /** True while the storage folder's disk has less free space than `storageMinFreeMB`: no new job starts. */
  get isLowOnDisk(): boolean {
    return this.lowDisk.isLow;
  }

  /**
   * Tries to save now (a person pressed Retry): checks the free space and writes the queue's
   * snapshot, whose outcome moves the storage health like any commit. Resolves when both are done.
   */
  async retrySaving(): Promise<void> {
    await this.lowDisk.check();
    await this.queue.localQueue?.retrySaving();
  }

  /**
   * Changes options. The concurrency applies at once (while this runtime holds the queue), the
   * recovery policy at its next pass; the runner's and the history's options when they next open.
   */
  updateOptions(options: Partial<RuntimeOptions>): void {
    const before = this.current.options;
    this.current.options = { ...this.current.options, ...options };
    void this.applyConcurrency();
    if (this.current.options.storageMinFreeMB !== before.storageMinFreeMB) void this.lowDisk.check();
    if (this.current.options.cleanupIntervalHours !== before.cleanupIntervalHours) this.services.cleanup?.follow();
  }

  private applyLowDiskHold(): void {
    this.queue.localQueue?.setHold(LOW_DISK_HOLD, this.lowDisk.isLow);
  }

  /** Holds back new jobs while the disk is low, and says so once each way. */
  private onLowDiskChange(change: LowDiskChange): void {
    this.applyLowDiskHold();
    const { logger } = this.context;
    if (change.low) {
      logger.warn(
        `[disk] ${formatBytes(change.freeBytes)} free on the storage folder's disk, below ${formatBytes(change.thresholdBytes)}: no new job starts until there is more (running jobs go on)`,
      );
    } else logger.info(`[disk] space is back (${formatBytes(change.freeBytes)} free): queued jobs start again`);
    this.reportEmitter.fire({ type: 'lowDiskSpace', ...change, heldJobs: this.queue.jobs.filter((job) => job.state === 'queued').length });
  }

  /**
   * Another extension's namespace of the workspace state (docs/state-api.md): reads and writes go
   * to whichever process holds the queue, this one or another window's over the socket.
   */
  openState<T>(namespace: string, options: StateNamespaceOptions<T> = {}): Promise<ExtensionState<T>> {
    const queue = this.queue;
    return openStateNamespace(
      {
        request: (body) => queue.request(STATE_SERVICE, body),
        onDidNotice: (listener) => queue.onDidNotice((notice) => notice.service === STATE_SERVICE && listener(notice.body)),
      },
      namespace,
      options,
    );
  }

  /** The output log of the job's latest attempt (undefined before it first ran). */
  outputLogPath(job: Job): string | undefined {
    if (job.attempts === 0) return undefined;
    return jobFilePaths(this.jobsDirectory, job.id, job.attempts).logPath;
  }

  /**
   * Writes a manual backup of every live store now (the holder only); with `includeArchive`, the
   * history's sealed archive shards too (runtimeRestore.ts `archiveBytes` says how large they are). Resolves once on disk.
   */
  async createBackup(options: { includeArchive?: boolean } = {}): Promise<BackupInfo> {
    const backups = this.services.backups;
    if (!backups) throw new Error('The runtime has no backups service.');
    const history = options.includeArchive ? await this.history.whenOpen() : undefined;
    const archive = history ? await history.archiveBackupSource().snapshotParts() : [];
    return backups.backupNow('manual', archive);
  }

  /**
   * Restores a backup while the workspace stays open (docs/backups.md, "Restore in place"): a
   * safety backup first, the stores replaced, the queue reopened with its running jobs adopted
   * again, the history reopened; listeners of the queue get a `reset`. The holder only.
   */
  async restoreBackup(id: string): Promise<RestoreInPlaceResult> {
    const backups = this.services.backups;
    if (!backups) throw new Error('The runtime has no backups service.');
    const result = await restoreInPlace(
      {
        manager: backups.manager,
        queue: this.queue,
        history: this.history,
        storageDirectory: this.storageDirectory,
        logger: this.context.logger,
        clock: this.context.clock ?? systemClock,
        otherStores: () => backups.liveStores().filter((entry) => entry.store.name !== 'queue' && entry.store.name !== 'history'),
        // A run that a backup remembers as running is long gone: a person decides whether to run it again.
        onInterrupted: (jobs) => this.recovery.markHandled(jobs),
        cipher: () => this.encryption.cipher,
        afterHistoryInstall: () => this.encryption.sealRestoredArchive(this.history.directory),
      },
      id,
    );
    if (result.interrupted.length > 0) {
      this.reportEmitter.fire({ type: 'recoveryNeeded', jobs: result.interrupted, question: 'interrupted' });
    }
    this.applyLowDiskHold();
    void this.applyConcurrency();
    return result;
  }

  private rekeyTargets(): RekeyTargets {
    const backups = this.services.backups;
    if (!backups) throw new Error('The runtime has no backups service.');
    return {
      isHolder: () => this.queue.role === 'holder',
      queueStore: () => this.queueLog()?.durableStore as DurableStore<unknown, unknown> | undefined,
      stateStore: async () => (await this.services.stateStore?.whenOpen())?.durable as DurableStore<unknown, unknown> | undefined,
      history: this.history,
      backups: backups.manager,
      jobFiles: async (ring) => {
        const running = (id: string): boolean => this.queue.getJob(id)?.state === 'running';
        const result = await convertJobFiles(this.jobsDirectory, {
          from: (fingerprint) => cipherFor(ring, fingerprint),
          to: ring.to,
          skip: running,
        });
        for (const failed of result.failed) this.context.logger.warn(`[encryption] ${failed.file} was left as it is: ${failed.error}`);
        return { rewritten: result.journals + result.logs, skipped: this.queue.jobs.filter((job) => job.state === 'running').length };
      },
    };
  }

  private finishPendingEncryption(): void {
    void this.encryption
      .finishPending()
      .catch((error: unknown) => this.context.logger.error(`[encryption] could not finish re-sealing the files: ${String(error)}`));
  }

  /**
   * A write of the backup commands (create, restore, delete, import), run by the process that
   * holds the queue: here, or over the socket in the holder (backupService.ts).
   */
  backups<K extends BackupCommand['op']>(command: Extract<BackupCommand, { op: K }>): Promise<BackupReplies[K]> {
    const run =
      this.queue.role === 'holder'
        ? runBackupCommand(runtimeBackupActions(this), command)
        : requestBackupCommand((body) => this.queue.request(BACKUP_SERVICE, body), command);
    return run as Promise<BackupReplies[K]>;
  }

  /** The option is the truth; the queue's flag follows it (written by the holder only). */
  private async applyConcurrency(): Promise<void> {
    const limit = this.current.options.concurrency;
    if (this.queue.role !== 'holder' || this.queue.flags?.concurrency === limit) return;
    await this.queue
      .execute({ type: 'setConcurrency', limit }, undefined, { kind: 'runtime', label: 'lifeline.queue.concurrency setting' })
      .then(
        () => this.context.logger.info(`[queue] concurrency set to ${limit}`),
        (error: unknown) => this.context.logger.warn(`[queue] could not set the concurrency: ${String(error)}`),
      );
  }

  /**
   * Closes the workspace: the services, then the history (recordings in flight finish; jobs that
   * finish meanwhile are recorded by the next holder's reconcile), then the queue (the lease is
   * released, running jobs stay with their supervisors).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.subscriptions.length) this.subscriptions.pop()?.dispose();
      this.lowDisk.dispose();
      // The audit log last: what the others record while closing is written.
      const services = [this.services.health, this.services.cleanup, this.services.backups, this.services.stateStore, this.services.audit];
      for (const service of services) {
        await service?.close().catch((error: unknown) => this.context.logger.warn(`[runtime] closing: ${String(error)}`));
      }
      await this.history.close();
      await this.queue.dispose();
      this.storageHealthTracker.dispose();
      this.reportEmitter.dispose();
    })();
    return this.closing;
  }
}
