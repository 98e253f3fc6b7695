import { existsSync, mkdirSync } from 'node:fs';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import { Emitter } from '../emitter';
import type { Disposable } from '../emitter';
import { deleteJobFiles, SWEEP_QUIET_MS } from './jobFiles';
import type { JobJournalReader } from './jobJournalReader';
import type { JobRunner, RecoveredRun, RunEvent, RunRequest } from '../queue/jobRunner';
import { jobFilePaths } from '../../shared/supervisor/node/jobFilePaths';
import type { ProcessIdentity } from '../../shared/supervisor/node/processIdentity';
import { isSameProcessAlive, signalOrphanedGroup, stopOrphanedGroup } from '../../shared/supervisor/node/processIdentity';
import { DEFAULT_KILL_GRACE_MS } from '../../shared/supervisor/node/processTree';
import type { JobRecord } from '../../shared/supervisor/supervisorWire';
import { RunnerKeys } from './runnerKeys';
import { stopWithoutHostField } from './runMessageFields';
import { loadSupervisorSecret } from './supervisorAuth';
import { SupervisorConnection } from './supervisorConnection';
import { SupervisorPool } from './supervisorPool';
import { retireEarlierRun } from './supervisorProtocol';
import { runEventOf, summarizeRun, toWireRunRequest } from './wireMapping';

/** The cap of a job's output log when none is given (head and tail kept): `lifeline.jobs.outputLimitMB`'s default. */
export const DEFAULT_LOG_LIMIT_BYTES = 8 * 1024 * 1024;

export interface SupervisorRunnerOptions {
  /** Folder of the jobs' journals and logs, inside the workspace's storage folder. */
  readonly jobsDir: string;
  /** The supervisor's entry script: dist/supervisor.js in the extension. */
  readonly supervisorScript: string;
  /** Idle supervisors started ahead of need, so that a job never waits for a Node start. @default 1 */
  readonly warmSupervisors?: number;
  /** Supervisors that finished a job stay for the next one, up to this many idle (about one per running slot). @default 4 */
  readonly maxIdleSupervisors?: number;
  /** How often a running job's supervisor records a heartbeat. @default 5000 */
  readonly heartbeatMs?: number;
  /** A job whose supervisor cannot be proven alive and wrote nothing for this long is lost. @default 3 × heartbeatMs */
  readonly staleAfterMs?: number;
  /** How often journals are read when no nudge arrives (adopted jobs, missed messages). @default 250 */
  readonly pollMs?: number;
  /** Cap of each job's output log; its head and tail are kept. @default 8 MiB */
  readonly logLimitBytes?: number;
  /** A supervisor with no job and no host exits after this long. @default 10000 */
  readonly idleExitMs?: number;
  /**
   * What happens to running jobs when VS Code closes for good: undefined lets them finish on their
   * own; a number makes each job's supervisor stop it once no host has held the lease for that
   * many ms (a holder coming back within it cancels the countdown). Such a job ends interrupted,
   * resumable. Sent with each job, so it applies to jobs started from now on. @default undefined
   */
  readonly stopWithoutHostAfterMs?: number;
  /**
   * A stopped (cancelled, timed out) job's stage gets SIGTERM, then SIGKILL this much later unless
   * it has its own `killGraceMs`. Its supervisor does both, so the stop completes without a host.
   * @default DEFAULT_KILL_GRACE_MS (`lifeline.jobs.killGraceSeconds`)
   */
  readonly killGraceMs?: number;
  /** The folder of the queue's lease. @default the parent of jobsDir (the workspace's storage folder) */
  readonly leaseDir?: string;
  /** When the supervisor judges the lease stale: the queue session's own limit. @default DEFAULT_LEASE_STALE_AFTER_MS (5000) */
  readonly leaseStaleAfterMs?: number;
  /** Start supervisors in their own systemd user scope where that works (SpawnSupervisorOptions.separateScope). @default false */
  readonly separateScope?: boolean;
  /** Jobs whose files the sweep keeps although the queue does not name them (a restore's safety backup holds them). */
  readonly keptJobs?: () => Promise<ReadonlySet<string>>;
  /** The 32-byte key current when a run starts, which seals its journal and log (docs/encryption-job-files.md). @default plain */
  readonly encryptionKey?: () => Uint8Array | undefined;
  readonly logger?: Logger;
}

interface TrackedJob {
  readonly jobId: string;
  readonly attempt: number;
  readonly reader: JobJournalReader;
  connection: SupervisorConnection | undefined;
  supervisor: ProcessIdentity | undefined;
  stageProcess: ProcessIdentity | undefined;
  lastRecordAt: number;
  killRequested: boolean;
  /** A channel to its supervisor is being opened (an adopted job): a kill waits for it. */
  reconnecting: boolean;
  /** Its `started` record's time: when its process really started. */
  startedAt: number | undefined;
  /** A read of the journal is due at the end of this task (nudges coalesce). */
  pollQueued: boolean;
  subscriptions: Disposable[];
}

/**
 * Runs jobs in detached supervisor processes (src/supervisor), so that they outlive the extension
 * host. Every fact comes from the job's own journal, written by its supervisor; the socket only
 * carries commands and nudges. Unlike the in-process runner, `dispose` detaches and leaves jobs
 * running: the next holder adopts them (`adopt`), applying whatever happened in between.
 */
export class SupervisorRunner implements JobRunner {
  private readonly emitter = new Emitter<RunEvent>();
  readonly onDidRun = this.emitter.event;
  private readonly jobs = new Map<string, TrackedJob>();
  private readonly pool: SupervisorPool;
  private readonly poller: NodeJS.Timeout;
  private readonly logger: Logger;
  private disposed = false;
  private secretValue: Buffer | undefined;
  /** Runs not adopted because their journal lost records, by `jobId:attempt`, until recover() tells the scheduler. */
  private readonly journalProblems = new Map<string, string>();
  private readonly keys: RunnerKeys;

  constructor(private readonly options: SupervisorRunnerOptions) {
    this.logger = options.logger ?? nullLogger;
    this.keys = new RunnerKeys(options.encryptionKey, this.logger);
    this.poller = setInterval(() => this.pollAll(), options.pollMs ?? 250);
    this.poller.unref();
    this.pool = new SupervisorPool({
      warm: options.warmSupervisors ?? 1,
      maxIdle: options.maxIdleSupervisors ?? 4,
      logger: this.logger,
      // Async, so that a secret that cannot be read fails this start, not the constructor.
      spawn: async () =>
        SupervisorConnection.spawn({
          script: options.supervisorScript,
          jobsDir: options.jobsDir,
          idleExitMs: options.idleExitMs ?? 10_000,
          secret: this.secret,
          separateScope: options.separateScope,
        }),
    });
  }

  /** The jobs folder's handshake secret, shared with every supervisor of this folder (supervisorAuth.ts). */
  private get secret(): Buffer {
    if (!this.secretValue) {
      mkdirSync(this.options.jobsDir, { recursive: true, mode: 0o700 });
      this.secretValue = loadSupervisorSecret(this.options.jobsDir, (detail) => this.logger.warn(`[supervisors] ${detail}`));
    }
    return this.secretValue;
  }

  private get heartbeatMs(): number {
    return this.options.heartbeatMs ?? 5000;
  }

  start(request: RunRequest): void {
    if (this.disposed) return;
    const { journalPath, logPath } = jobFilePaths(this.options.jobsDir, request.jobId, request.attempt);
    // This attempt may have run already: the queue acts on its start record before that record's
    // sync, and a failed sync cuts it, so a queue can come back with the attempt before. A run
    // that lives is followed rather than started a second time beside it; one whose supervisor
    // died has its stage's process group stopped before its files go.
    if (existsSync(journalPath) && this.followLiveRun(request.jobId, request.attempt, journalPath)) {
      this.logger.warn(
        `[supervisors] ${request.jobId} attempt ${request.attempt} was already running under its supervisor; following that run`,
      );
      return;
    }
    const retireError = retireEarlierRun(journalPath, logPath);
    // The supervisor's exclusive create then refuses the run, which ends with that error.
    if (retireError) this.logger.warn(`[supervisors] could not move the files of an earlier run aside: ${String(retireError)}`);
    const job = this.track(request.jobId, request.attempt, journalPath);
    void this.pool
      .take()
      .then(async (connection) => {
        if (this.disposed) return connection.dispose();
        this.attach(job, connection);
        await connection.run({
          op: 'run',
          request: toWireRunRequest(request),
          journalPath,
          logPath,
          logLimitBytes: this.options.logLimitBytes ?? DEFAULT_LOG_LIMIT_BYTES,
          heartbeatMs: this.heartbeatMs,
          killGraceMs: this.killGraceMs,
          ...stopWithoutHostField(this.options),
          ...this.keys.runKey(),
        });
        // Its `started` record is on disk now: read it, so that the supervisor is watched from here on.
        this.poll(job);
        if (job.killRequested) connection.send({ op: 'kill', jobId: job.jobId });
      })
      .catch((error: unknown) => {
        if (this.disposed) return;
        // A supervisor starts the first stage before `started` is on disk and it answers: one that
        // went away meanwhile may have left the stage running, with its identity in the journal.
        if (job.connection?.closed && this.jobs.get(job.jobId) === job) {
          if (!this.settleLostSupervisor(job)) return;
          // It ran: lost with its owner, as when a supervisor dies later, not a failed start.
          if (job.stageProcess) return this.finishInterrupted(job);
        }
        this.logger.error(`[supervisors] could not start ${request.jobId}: ${String(error)}`);
        this.finish(job, {
          type: 'exited',
          jobId: job.jobId,
          attempt: job.attempt,
          exitCode: null,
          signal: null,
          error: `could not start: ${error instanceof Error ? error.message : String(error)}`,
        });
      });
  }

  /**
   * Re-attaches to a job a previous holder left running. True when its journal has an exit record
   * or its supervisor is provably alive; everything recorded so far is then replayed as events.
   * Otherwise the job lost its owner: its last stage's process group is stopped (if it is still
   * that process) before false is returned, so a resume never runs a stage twice at once.
   */
  adopt(request: {
    readonly jobId: string;
    readonly attempt: number;
    readonly pid: number | undefined;
    readonly startedAt?: number;
  }): boolean {
    const { journalPath } = jobFilePaths(this.options.jobsDir, request.jobId, request.attempt);
    if (this.disposed) return false;
    if (!existsSync(journalPath)) return this.noteJournalLoss(request, journalPath);
    const reader = this.keys.reader(journalPath);
    const records = this.keys.readRecords(request.jobId, reader);
    // Locked, not lost: followed without its records until its key is given (never settled, never resumed).
    if (this.keys.isLocked(reader.path)) {
      this.track(request.jobId, request.attempt, journalPath, reader);
      return true;
    }
    const started = records.find((record) => record.t === 'started');
    // The files of an earlier run with the same attempt number: this run never reached a supervisor.
    if (started && request.startedAt !== undefined && started.at < request.startedAt) {
      reader.close();
      return false;
    }
    const exited = records.some((record) => record.t === 'exited');
    if (!exited && !this.isLive(records)) {
      reader.close();
      this.stopLostStage(request.jobId, records);
      return this.noteJournalLoss(request, journalPath);
    }
    this.follow(request.jobId, request.attempt, reader, records);
    return true;
  }

  /** A run not adopted: if its journal lost records the queue had read, says so now and in recover(). False. */
  private noteJournalLoss(
    request: { readonly jobId: string; readonly attempt: number; readonly pid: number | undefined },
    path: string,
  ): false {
    const { problem } = this.keys.checkJournal(path, { ...request, queueSawStart: request.pid !== undefined });
    if (problem) {
      this.journalProblems.set(`${request.jobId}:${request.attempt}`, problem);
      this.logger.error(`[supervisors] ${request.jobId} attempt ${request.attempt}: ${problem}`);
    }
    return false;
  }

  /** Stops the process group of a run's last stage, if that process still runs: its owner is gone. */
  private stopLostStage(jobId: string, records: readonly JobRecord[]): void {
    const stageProcess = records.reduce<ProcessIdentity | undefined>(
      (last, record) => (record.t === 'stageStarted' ? record.process : last),
      undefined,
    );
    if (stopOrphanedGroup(stageProcess)) {
      this.logger.warn(`[supervisors] stopped the orphaned process group ${stageProcess?.pid} of ${jobId}`);
    }
  }

  /** True when the journal's run has no exit and its supervisor is provably alive. */
  private isLive(records: readonly JobRecord[]): boolean {
    const started = records.find((record) => record.t === 'started');
    if (!started || records.some((record) => record.t === 'exited')) return false;
    const lastAt = records.at(-1)?.at ?? 0;
    return (
      isSameProcessAlive(started.supervisor) && (started.supervisor.startTime !== undefined || Date.now() - lastAt < this.staleAfterMs)
    );
  }

  private followLiveRun(jobId: string, attempt: number, journalPath: string): boolean {
    const reader = this.keys.reader(journalPath);
    const records = this.keys.readRecords(jobId, reader);
    if (!this.isLive(records)) {
      reader.close();
      if (!records.some((record) => record.t === 'exited')) this.stopLostStage(jobId, records);
      return false;
    }
    this.follow(jobId, attempt, reader, records);
    return true;
  }

  /** Tracks a run found in its journal: what it recorded so far is replayed, then it is followed live. */
  private follow(jobId: string, attempt: number, reader: JobJournalReader, records: readonly JobRecord[]): void {
    const job = this.track(jobId, attempt, reader.path, reader);
    const started = records.find((record) => record.t === 'started');
    const exited = records.some((record) => record.t === 'exited');
    // A kill asked for before the channel is back goes through it, so its supervisor keeps the grace.
    job.reconnecting = !exited && started !== undefined;
    // Replayed after the caller has finished (restoring, or starting), in the order the supervisor wrote them.
    setImmediate(() => {
      for (const record of records) this.apply(job, record);
      if (!exited && started && this.jobs.get(job.jobId) === job) this.reconnect(job, started.socketPath);
    });
  }

  recover(request: { readonly jobId: string; readonly attempt: number; readonly startedAt?: number }): RecoveredRun | undefined {
    const { journalPath } = jobFilePaths(this.options.jobsDir, request.jobId, request.attempt);
    const noted = this.journalProblems.get(`${request.jobId}:${request.attempt}`);
    this.journalProblems.delete(`${request.jobId}:${request.attempt}`);
    const { records, problem } = this.keys.checkJournal(journalPath, { ...request, queueSawStart: false });
    const started = records.find((record) => record.t === 'started');
    if (!started || (request.startedAt !== undefined && started.at < request.startedAt)) {
      return noted ? { stage: undefined, checkpoint: undefined, succeededStages: [], journalProblem: noted } : undefined;
    }
    const journalProblem = noted ?? problem;
    return { ...summarizeRun(records), ...(journalProblem ? { journalProblem } : {}) };
  }

  async forget(jobIds: readonly string[]): Promise<void> {
    const ids = new Set(jobIds);
    // A job this runner still follows is not done with its files, whatever the caller thinks.
    await deleteJobFiles(this.options.jobsDir, (jobId) => ids.has(jobId) && !this.jobs.has(jobId), this.logger);
  }

  async sweep(isLive: (jobId: string) => boolean): Promise<void> {
    const kept = (await this.options.keptJobs?.().catch(() => undefined)) ?? new Set<string>();
    const gone = (jobId: string): boolean => !isLive(jobId) && !kept.has(jobId) && !this.jobs.has(jobId);
    const deleted = await deleteJobFiles(this.options.jobsDir, gone, this.logger, { quietForMs: SWEEP_QUIET_MS });
    if (deleted > 0) this.logger.info(`[supervisors] deleted ${deleted} file(s) of jobs no longer in the queue`);
  }

  kill(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job) return;
    job.killRequested = true;
    if (job.connection && !job.connection.closed) job.connection.send({ op: 'kill', jobId });
    // An adopted job's channel is on its way: `reconnect` sends the kill.
    else if (!job.reconnecting) this.stopDirectly(job);
  }

  /**
   * No channel to the job's supervisor: this host stops the running stage itself, SIGTERM now and
   * SIGKILL after the grace (if this host is still there then; the next one asks again, as the
   * stop is on record). The supervisor records the signal and runs no further stage.
   */
  private stopDirectly(job: TrackedJob): void {
    const stage = job.stageProcess;
    if (!signalOrphanedGroup(stage, 'SIGTERM')) return;
    setTimeout(() => stopOrphanedGroup(stage), this.killGraceMs).unref();
  }

  private get killGraceMs(): number {
    return Math.max(0, Math.round(this.options.killGraceMs ?? DEFAULT_KILL_GRACE_MS));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.poller);
    // Only the channels close: each supervisor finishes its job and records it for the next holder.
    for (const job of [...this.jobs.values()]) {
      this.untrack(job);
      job.connection?.dispose();
    }
    this.pool.dispose();
    this.emitter.dispose();
  }

  private get staleAfterMs(): number {
    return this.options.staleAfterMs ?? 3 * this.heartbeatMs;
  }

  private track(jobId: string, attempt: number, journalPath: string, reader = this.keys.reader(journalPath)): TrackedJob {
    const previous = this.jobs.get(jobId);
    if (previous) this.untrack(previous);
    const job: TrackedJob = {
      jobId,
      attempt,
      reader,
      connection: undefined,
      supervisor: undefined,
      stageProcess: undefined,
      lastRecordAt: Date.now(),
      killRequested: false,
      reconnecting: false,
      startedAt: undefined,
      pollQueued: false,
      subscriptions: [],
    };
    this.jobs.set(jobId, job);
    return job;
  }

  private untrack(job: TrackedJob): void {
    for (const subscription of job.subscriptions.splice(0)) subscription.dispose();
    job.reader.close();
    if (this.jobs.get(job.jobId) === job) this.jobs.delete(job.jobId);
  }

  private attach(job: TrackedJob, connection: SupervisorConnection): void {
    job.connection = connection;
    job.subscriptions.push(
      connection.onMessage((message) => {
        if (message.ev !== 'wrote' || message.jobId !== job.jobId || job.pollQueued) return;
        // Nudges read from the socket together (a job's last records come in a burst) need one read of the journal.
        job.pollQueued = true;
        queueMicrotask(() => {
          job.pollQueued = false;
          this.poll(job);
        });
      }),
    );
  }

  private reconnect(job: TrackedJob, socketPath: string): void {
    // Async, so that a secret that cannot be read is one more reason the socket is not used.
    Promise.resolve()
      .then(() => SupervisorConnection.connect(socketPath, { secret: this.secret }))
      .then(
        (connection) => {
          job.reconnecting = false;
          if (this.disposed || this.jobs.get(job.jobId) !== job) return connection.dispose();
          this.attach(job, connection);
          if (job.killRequested) connection.send({ op: 'kill', jobId: job.jobId });
          this.poll(job);
        },
        // The journal is enough to follow the job; only a kill then goes to the process group. So is
        // it when whoever answers fails the handshake (a supervisor of an earlier version, or a forgery):
        // nothing is sent to it, and nothing it says is believed.
        (error: unknown) => {
          job.reconnecting = false;
          this.logger.warn(`[supervisors] cannot reach the supervisor of ${job.jobId}: ${String(error)}`);
          if (job.killRequested && !this.disposed && this.jobs.get(job.jobId) === job) this.stopDirectly(job);
        },
      );
  }

  private pollAll(): void {
    for (const job of [...this.jobs.values()]) this.poll(job, true);
  }

  private poll(job: TrackedJob, checkLiveness = false): void {
    for (const record of this.keys.readRecords(job.jobId, job.reader)) this.apply(job, record);
    if (!checkLiveness || this.jobs.get(job.jobId) !== job || !job.supervisor) return;
    const proven = job.supervisor.startTime !== undefined;
    const lost = !isSameProcessAlive(job.supervisor) || (!proven && Date.now() - job.lastRecordAt > this.staleAfterMs);
    if (!lost) return;
    if (!this.settleLostSupervisor(job)) return;
    this.finishInterrupted(job);
  }

  /**
   * The job's supervisor is gone: applies what it wrote last (its exit, perhaps, just before it
   * went) and stops its stage's orphaned process group. False when those records settled the job.
   */
  private settleLostSupervisor(job: TrackedJob): boolean {
    for (const record of this.keys.readRecords(job.jobId, job.reader)) this.apply(job, record);
    if (this.jobs.get(job.jobId) !== job) return false;
    if (stopOrphanedGroup(job.stageProcess)) {
      this.logger.warn(`[supervisors] stopped the orphaned process group ${job.stageProcess?.pid} of ${job.jobId}`);
    }
    return true;
  }

  /** Not a failure of the job: its owner went. The scheduler makes it interrupted (resumable). */
  private finishInterrupted(job: TrackedJob): void {
    this.finish(job, {
      type: 'exited',
      jobId: job.jobId,
      attempt: job.attempt,
      exitCode: null,
      signal: null,
      error: 'its supervisor stopped without recording an exit',
      interrupted: true,
    });
  }

  private apply(job: TrackedJob, record: JobRecord): void {
    if (this.jobs.get(job.jobId) !== job) return;
    job.lastRecordAt = record.at;
    if (record.t === 'started') {
      job.supervisor = record.supervisor;
      job.startedAt = record.at;
    } else if (record.t === 'stageStarted') {
      job.stageProcess = record.process;
    }
    const event = runEventOf(record, job);
    if (event?.type !== 'exited') return event && this.fire(event);
    // The setting stopped it, not a fault of its own: interrupted, resumable.
    if (record.t === 'exited' && record.stoppedWithoutHost) this.logger.warn(`[supervisors] ${job.jobId} was ${event.error}`);
    this.finish(job, event);
  }

  /** Ends tracking with the one `exited` event; a supervisor that ran it goes back to the pool. */
  private finish(job: TrackedJob, event: Extract<RunEvent, { type: 'exited' }>): void {
    if (this.jobs.get(job.jobId) !== job) return;
    this.untrack(job);
    const connection = job.connection;
    job.connection = undefined;
    if (connection) void this.pool.recycle(connection);
    this.fire(event);
  }

  private fire(event: RunEvent): void {
    if (!this.disposed) this.emitter.fire(event);
  }
}
