import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import type { CommitOptions } from '../storage/durableStore';
import { nullLogger } from '../logger';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Event } from '../emitter';
import { Emitter } from '../emitter';
import { describeIssues } from './jobDefinitions';
import { JobError } from './jobErrors';
import type {
  AuditOrigin,
  CommandAudit,
  CommandEnvelope,
  CommandResult,
  Job,
  JobState,
  QueueCommand,
  QueueFlags,
  QueueRecord,
} from './jobModel';
import { auditOriginSchema, FINISHED_STATES, queueCommandSchema } from './jobModel';
import { commandAudit } from './commandAudit';
import type { JobRunner } from './jobRunner';
import { JobScheduler } from './jobScheduler';
import type { QueueLog } from './queueLog';
import { QueueState } from './queueState';
import type { MutateOptions } from './queueUndo';
import { PendingCommits } from './queueUndo';
import { SavingReporter, toJobError, UNSAVED_RETRY_MS } from './queueSaving';
import type { SavingStatus } from './queueSaving';
import { planCommand, requireJob } from './commandPlan';

/** What changed, fired only once the change is on disk. */
export type QueueEvent =
  | { readonly type: 'jobChanged'; readonly job: Job; readonly previousState: JobState | undefined }
  | { readonly type: 'jobsRemoved'; readonly ids: readonly string[] }
  | { readonly type: 'flagsChanged'; readonly flags: QueueFlags };

export type { SavingStatus } from './queueSaving';
export { UNSAVED_RETRY_MS } from './queueSaving';

export interface JobQueueOptions {
  readonly log: QueueLog;
  readonly runner: JobRunner;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default nullLogger */
  readonly logger?: Logger;
  /** For backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** Relative working directories resolve against it (the workspace folder). @default process.cwd() */
  readonly baseDir?: string;
}

/**
 * The durable job queue of the lease holder. Every change is applied in memory at once (so a
 * second command sees it) and acknowledged, and announced, only once its record is on disk.
 * Commands carry ids; a command id seen before returns its first result and changes nothing.
 */
export class JobQueue {
  private readonly emitter: Emitter<QueueEvent>;
  readonly onDidChange: Event<QueueEvent>;
  readonly state: QueueState;
  private readonly scheduler: JobScheduler;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly inFlightCommands = new Map<string, Promise<CommandResult>>();
  private inFlightCommits = 0;
  private idleWaiters: (() => void)[] = [];
  private compacting: Promise<void> | undefined;
  /** Sticky: the lease is lost, so this process must never write again (FencedQueueLog). */
  private failure: JobError | undefined;
  private readonly pendingCommits = new PendingCommits();
  /** Jobs whose change is kept in memory, not yet on disk, with the state last announced for each. */
  private readonly unsaved = new Map<string, JobState | undefined>();
  private retryTimer: { dispose(): void } | undefined;
  /** The write of the kept changes in flight: one at a time, so each is announced once. */
  private unsavedWrite = false;
  private readonly saving: SavingReporter;
  /** Fires when {@link savingStatus} changes kind (saving, saved, notSaving). */
  readonly onDidChangeSaving: Event<SavingStatus>;
  private deduped = 0;
  private readonly auditEmitter: Emitter<{ readonly id: string; readonly audit: CommandAudit }>;
  /** Fires once a command's record, with its audit record, is on disk (RuntimeAudit copies it to the audit file). */
  readonly onDidAudit: Event<{ readonly id: string; readonly audit: CommandAudit }>;
  private sequence: Promise<void> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly options: JobQueueOptions,
    state: QueueState,
  ) {
    this.state = state;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? nullLogger;
    this.emitter = new Emitter<QueueEvent>((error) => this.logger.error(`[queue] a listener failed: ${String(error)}`));
    this.onDidChange = this.emitter.event;
    this.auditEmitter = new Emitter((error) => this.logger.error(`[queue] an audit listener failed: ${String(error)}`));
    this.onDidAudit = this.auditEmitter.event;
    this.saving = new SavingReporter(this.clock, this.logger, () => ({ inFlight: this.inFlightCommits, unsaved: this.unsaved.size }));
    this.onDidChangeSaving = this.saving.onDidChange;
    this.scheduler = new JobScheduler(this, options.runner, this.clock, options.random ?? Math.random, this.logger);
  }

  /** Loads the queue, settles jobs the last process left running, re-arms deadlines and, with autoRun, starts scheduling. */
  static async open(options: JobQueueOptions): Promise<JobQueue> {
    const { snapshot, records } = await options.log.load();
    const state = QueueState.fromSnapshot(snapshot);
    for (const record of records) state.apply(record);
    const queue = new JobQueue(options, state);
    const settled = queue.scheduler.restore();
    if (settled.length > 0) await queue.mutate(settled);
    queue.scheduler.pump();
    // Files of jobs removed while a host went before it deleted them; asked per job, so new jobs are kept.
    void options.runner.sweep?.((jobId) => queue.state.jobs.has(jobId));
    return queue;
  }

  get flags(): QueueFlags {
    return this.state.flags;
  }

  /** Every job in queue order. */
  get jobs(): Job[] {
    return this.state.orderedJobs();
  }

  getJob(id: string): Job | undefined {
    return this.state.jobs.get(id);
  }

  /** Commands answered from the durable record of an earlier delivery: resends after a takeover. */
  get dedupedCommands(): number {
    return this.deduped;
  }

  /** True when the scheduler starts jobs (autoRun at open, or started since) and the queue is not paused. */
  get isScheduling(): boolean {
    return this.scheduler.isActive;
  }

  /** Holds back the start of new jobs for `reason` (the runtime's low-disk monitor); see JobScheduler.setHold. */
  setHold(reason: string, held: boolean): void {
    this.scheduler.setHold(reason, held);
  }

  /** Starts scheduling in this session although autoRun was off. */
  start(): void {
    this.scheduler.start();
  }

  /** Whether changes reach the disk (see {@link SavingStatus}). */
  get savingStatus(): SavingStatus {
    return this.saving.status;
  }

  /**
   * Applies a change: in memory now, on disk before the returned promise and the events;
   * `onWritten` runs once it is in the journal file, before its sync (QueueLog.commit). When the
   * commit fails the promise rejects with a JobError (`diskFull`, `storageFailed`, `leaseLost`) and
   * the change is undone in memory or kept for a later write, as `options.onFailure` says; the next
   * change is tried on the disk as usual, so the queue works again as soon as the disk does. Only a
   * lost lease is final.
   */
  mutate(records: QueueRecord[], options: MutateOptions = {}): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.disposed) return Promise.reject(new JobError('disposed', 'The queue is closed.'));
    this.writeUnsaved();
    const events: QueueEvent[] = [];
    const commit = this.pendingCommits.begin(this.state, records);
    for (const [index, original] of records.entries()) {
      const record =
        original.t === 'job'
          ? (records[index] = { t: 'job', job: countInterruptions(this.state.jobs.get(original.job.id), original.job, this.clock.now()) })
          : original;
      if (record.t === 'job') {
        events.push({ type: 'jobChanged', job: record.job, previousState: this.announcedState(record.job.id) });
      } else if (record.t === 'remove') {
        // A change kept unsaved is announced before the job goes, so listeners (the history) see its end.
        for (const id of record.ids) {
          const job = this.state.jobs.get(id);
          if (job && this.unsaved.has(id)) events.push({ type: 'jobChanged', job, previousState: this.unsaved.get(id) });
        }
        events.push({ type: 'jobsRemoved', ids: record.ids });
      } else if (record.t === 'flags') events.push({ type: 'flagsChanged', flags: record.flags });
      this.state.apply(record);
    }
    let written = false;
    const onWritten = options.onWritten && (() => ((written = true), options.onWritten?.()));
    return this.persist(records, { onWritten }).then(
      () => {
        this.pendingCommits.succeeded(commit);
        for (const record of records) {
          if (record.t === 'job') this.unsaved.delete(record.job.id);
          else if (record.t === 'remove') for (const id of record.ids) this.unsaved.delete(id);
        }
        this.saving.succeeded();
        for (const event of events) this.emitter.fire(event);
      },
      (error: unknown) => {
        const failure = toJobError(error);
        if (JobError.is(failure, 'leaseLost')) this.failure ??= failure;
        if (options.onFailure === 'keep' || written) {
          this.pendingCommits.kept(commit);
          for (const event of events) {
            if (event.type === 'jobChanged' && !this.unsaved.has(event.job.id)) this.unsaved.set(event.job.id, event.previousState);
          }
        } else this.pendingCommits.undo(commit, this.state);
        this.scheduleRetry();
        this.saving.failed(failure);
        throw failure;
      },
    );
  }

  /** The state listeners were last told for a job: an unsaved change was never announced. */
  private announcedState(jobId: string): JobState | undefined {
    return this.unsaved.has(jobId) ? this.unsaved.get(jobId) : this.state.jobs.get(jobId)?.state;
  }

  /** Writes the jobs whose change was kept after a failed commit, as they are now. */
  private writeUnsaved(): void {
    if (this.unsaved.size === 0 || this.unsavedWrite || this.failure || this.disposed) return;
    const records: QueueRecord[] = [];
    for (const id of this.unsaved.keys()) {
      const job = this.state.jobs.get(id);
      if (job) records.push({ t: 'job', job });
      else this.unsaved.delete(id);
    }
    if (records.length === 0) return;
    // Their events carry the state last announced (announcedState), so the end of a run is seen once.
    this.unsavedWrite = true;
    void this.mutate(records, { onFailure: 'keep' })
      .catch(() => undefined)
      .finally(() => (this.unsavedWrite = false));
  }

  /** After a failure, writes what was kept and lets the scheduler start what an undone start left queued. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.disposed || this.failure) return;
    this.retryTimer = this.clock.setTimer(() => {
      this.retryTimer = undefined;
      this.writeUnsaved();
      this.scheduler.pump();
    }, UNSAVED_RETRY_MS);
  }

  private async persist(records: QueueRecord[], options: CommitOptions): Promise<void> {
    this.inFlightCommits++;
    this.saving.update();
    try {
      // Commits wait for a running compaction, which took its snapshot when none was in flight.
      if (this.compacting) await this.compacting;
      await this.options.log.commit(records, options);
    } finally {
      this.inFlightCommits--;
      if (this.inFlightCommits === 0) this.onQuiet();
    }
  }

  private onQuiet(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Folds the journal into a new snapshot now. When to do so by itself is the log's decision (QueueLog.compact). */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    const snapshot = this.state.toSnapshot();
    this.compacting = this.options.log
      .compact(snapshot)
      // A snapshot on disk proves the disk takes writes again (the Retry of the views); a failed
      // one changes nothing said about saving: the journal still takes the commits.
      .then(() => this.saving.succeeded())
      .catch((error: unknown) => this.logger.warn(`[queue] compaction failed, the journal keeps growing: ${String(error)}`))
      .finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  /**
   * Tries the disk now (the Retry of the views): writes what was kept after a failed commit, else
   * folds the journal into a snapshot. "Not saving" ends once a write succeeds with nothing kept.
   */
  async retrySaving(): Promise<void> {
    if (this.failure || this.disposed) return;
    // A compaction in flight may have begun while the disk was full, and fail: a try of its own
    // comes after it, so that Retry never ends on an attempt made before the disk was fixed.
    if (this.compacting) await this.compacting;
    if (this.unsaved.size > 0) {
      this.writeUnsaved();
      await this.whenIdle();
      this.scheduler.pump();
      return;
    }
    await this.compact();
  }

  /** Resolves when no commit is in flight: for tests and orderly shutdown. */
  async whenIdle(): Promise<void> {
    while (this.inFlightCommits > 0 || this.compacting) {
      if (this.compacting) await this.compacting;
      if (this.inFlightCommits > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /**
   * Runs one command exactly once per command id. Throws {@link JobError} with reason
   * `invalidCommand`, `invalidJob`, `jobNotFound`, `duplicateJob` or `invalidState` when the
   * command cannot apply (nothing changes then), `storageFailed` or `disposed` otherwise.
   */
  execute(envelope: CommandEnvelope | { commandId: string; command: unknown; origin?: unknown }): Promise<CommandResult> {
    const done = this.state.commands.get(envelope.commandId);
    if (done) {
      this.deduped++;
      return Promise.resolve(done);
    }
    const pending = this.inFlightCommands.get(envelope.commandId);
    if (pending) return pending;
    const run = this.run(envelope.commandId, envelope.command, envelope.origin).finally(() =>
      this.inFlightCommands.delete(envelope.commandId),
    );
    this.inFlightCommands.set(envelope.commandId, run);
    return run;
  }

  private async run(commandId: string, input: unknown, originInput: unknown): Promise<CommandResult> {
    const parsed = queueCommandSchema.safeParse(input);
    if (!parsed.success) throw new JobError('invalidCommand', `Invalid command: ${describeIssues(parsed.error)}.`);
    const command = parsed.data;
    const originParsed = auditOriginSchema.optional().safeParse(originInput);
    if (!originParsed.success) throw new JobError('invalidCommand', `Invalid origin: ${describeIssues(originParsed.error)}.`);
    const origin: AuditOrigin | undefined = originParsed.data;
    // Commands apply in the order they arrive, although an enqueue checks the disk first: each
    // plans against the state its predecessors left, and their commits reach the journal in order.
    const step = this.sequence.then(async () => {
      const { records, result, after, afterCommit } = planCommand(
        {
          state: this.state,
          now: this.clock.now(),
          baseDir: this.options.baseDir ?? process.cwd(),
          scheduler: this.scheduler,
          runner: this.options.runner,
          logger: this.logger,
        },
        command,
      );
      const audit = commandAudit(
        command,
        result,
        origin,
        this.clock.now(),
        (id) =>
          records.reduce<string | undefined>((name, r) => (r.t === 'job' && r.job.id === id ? r.job.name : name), undefined) ??
          this.state.jobs.get(id)?.name,
      );
      records.push({ t: 'cmd', id: commandId, result, audit });
      const committed = this.mutate(records);
      void committed.then(
        () => this.auditEmitter.fire({ id: commandId, audit }),
        () => undefined,
      );
      after?.();
      if (afterCommit) void committed.then(afterCommit, () => undefined);
      this.scheduler.pump();
      return { committed, result };
    });
    this.sequence = step.then(
      () => undefined,
      () => undefined,
    );
    const { committed, result } = await step;
    await committed;
    return result;
  }

  private requireJob(id: string): Job {
    return requireJob(this.state, id);
  }

  // Convenience wrappers: each makes a fresh command id. A caller that resends must use execute().
  async enqueue(command: Omit<Extract<QueueCommand, { type: 'enqueue' }>, 'type'>): Promise<Job> {
    const result = await this.execute({ commandId: randomUUID(), command: { type: 'enqueue', ...command } });
    return this.requireJob(result.jobId as string);
  }

  async command(command: QueueCommand, origin?: AuditOrigin): Promise<CommandResult> {
    return this.execute({ commandId: randomUUID(), command, origin });
  }

  /** Stops scheduling and timers, waits for commits in flight, closes the log. Jobs this process runs are the runner's. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    // New changes are refused from here (a session sends them to the next holder); commits in flight finish.
    this.disposed = true;
    this.scheduler.dispose();
    this.retryTimer?.dispose();
    await this.whenIdle().catch(() => undefined);
    if (this.unsaved.size > 0) {
      this.logger.warn(`[queue] closed with ${this.unsaved.size} job change(s) not saved; the next holder settles those jobs`);
    }
    await this.options.log.close();
    this.emitter.dispose();
    this.auditEmitter.dispose();
    this.saving.dispose();
  }
}

/**
 * Interruptions in a row: one more each time the job becomes interrupted (stamped with when, so
 * recovery can say how long the lost attempt had run), none once it ends.
 */
function countInterruptions(before: Job | undefined, after: Job, now: number): Job {
  if (after.state === 'interrupted' && before?.state !== 'interrupted') {
    return { ...after, interruptions: (before?.interruptions ?? after.interruptions) + 1, finishedAt: after.finishedAt ?? now };
  }
  if (FINISHED_STATES.has(after.state) && after.interruptions !== 0) return { ...after, interruptions: 0 };
  return after;
}
