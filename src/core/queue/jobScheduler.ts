import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '../logger';
import type { Clock, TimerHandle } from '../clock';
import { setDeadline } from '../clock';
import type { Disposable } from '../emitter';
import type { Job, QueueRecord } from './jobModel';
import type { JobRunner, RecoveredRun, RunEvent } from './jobRunner';
import { stopOrphanedGroup } from '../../shared/supervisor/node/processIdentity';
import type { QueueState } from './queueState';
import { decideAfterExit } from './retryPolicy';
import type { MutateOptions } from './queueUndo';

/** What the scheduler needs from the queue: its state and the one way to change it durably. */
export interface SchedulerHost {
  readonly state: QueueState;
  /**
   * `onWritten`: the records are in the journal file, not yet synced (QueueLog.commit). A failed
   * commit is undone in memory, unless `onFailure: 'keep'` or `onWritten` ran (JobQueue.mutate).
   */
  mutate(records: QueueRecord[], options?: MutateOptions): Promise<void>;
}

interface JobTimers {
  start?: TimerHandle;
  job?: TimerHandle;
  stage?: TimerHandle;
  progress?: TimerHandle;
}

/**
 * A job may print progress many times a second; each durable commit costs an fdatasync, so
 * progress is committed at most this often per job (the latest value wins, none is lost at the end
 * of a burst). Checkpoints are always committed at once.
 */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * Starts queued jobs through the runner up to the concurrency limit, turns runner events into
 * durable job changes, and keeps every deadline (delayed start, backoff, job and stage timeouts)
 * armed from the absolute times stored in the jobs.
 */
export class JobScheduler {
  /** Scheduling runs when the queue opened with autoRun, or was started or resumed since. */
  private active = false;
  private readonly timers = new Map<string, JobTimers>();
  private readonly lastProgressAt = new Map<string, number>();
  private readonly pendingProgress = new Map<string, { attempt: number; fraction: number | undefined; message: string | undefined }>();
  private readonly subscription: Disposable;
  private disposed = false;
  /** Why starting is held back (low disk space): apart from the user's pause, which is durable and theirs. */
  private readonly holds = new Set<string>();

  constructor(
    private readonly host: SchedulerHost,
    private readonly runner: JobRunner,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly logger: Logger,
  ) {
    this.subscription = runner.onDidRun((event) => this.onRunEvent(event));
  }

  get isActive(): boolean {
    return this.active && !this.host.state.flags.paused;
  }

  /**
   * Holds back (or lets go) the start of new jobs for `reason`, in memory only. Running jobs go
   * on and nothing is cancelled; the queue's own pause flag is left to the user.
   */
  setHold(reason: string, held: boolean): void {
    if (held) {
      this.holds.add(reason);
      return;
    }
    if (this.holds.delete(reason)) this.pump();
  }

  /**
   * After a load: jobs that were running are adopted when the runner can, else interrupted; every
   * stored deadline is armed again with the time it has left, firing at once when it passed while
   * the queue was closed.
   */
  restore(): QueueRecord[] {
    const records: QueueRecord[] = [];
    for (const job of this.host.state.jobs.values()) {
      if (
        job.state === 'running' &&
        this.runner.adopt?.({ jobId: job.id, attempt: job.attempts, pid: job.pid, startedAt: job.startedAt })
      ) {
        this.armJobTimeout(job);
        this.armStageTimeout(job);
        // The stop was recorded but the process may never have received it.
        if (job.stopReason) this.runner.kill(job.id);
      } else if (job.state === 'running') {
        // Its runner died without an exit record; its process group may live on. Stop it, or a
        // resume would run the stage twice.
        if (stopOrphanedGroup(job.process)) {
          this.logger.warn(`[scheduler] stopped the orphaned process group ${job.process?.pid} of ${job.id}`);
        }
        // A stop on record (its grace may have been running) ends as asked, cancelled or timed
        // out, never interrupted: recovery would run it again.
        const next = job.stopReason
          ? this.settled(this.recovered(job), { exitCode: null, signal: null, error: undefined })
          : this.lostJob(job, 'interrupted', 'the queue stopped while the job ran');
        if (next.state === 'delayed') this.armStart(next);
        records.push({ t: 'job', job: next });
      } else if (job.state === 'delayed') {
        this.armStart(job);
      }
    }
    this.active = this.host.state.flags.autoRun;
    return records;
  }

  start(): void {
    this.active = true;
    this.pump();
  }

  /** Starts as many queued jobs as the limit allows. Called after every change that could free a slot. */
  pump(): void {
    if (this.disposed || !this.isActive || this.holds.size > 0) return;
    const state = this.host.state;
    let running = state.runningCount();
    while (running < state.flags.concurrency) {
      const job = state.nextRunnable();
      if (!job) break;
      this.startJob(job);
      running++;
    }
  }

  private startJob(job: Job): void {
    const now = this.clock.now();
    const fromStage = firstStageToRun(job);
    // A checkpoint belongs to the stage that wrote it: a restart at an earlier stage starts clean.
    const checkpoint = fromStage === job.currentStage ? job.checkpoint : undefined;
    const running: Job = {
      ...job,
      checkpoint,
      state: 'running',
      attempts: job.attempts + 1,
      startedAt: now,
      finishedAt: undefined,
      notBefore: undefined,
      deadlineAt: job.timeoutMs === undefined ? undefined : now + job.timeoutMs,
      stageDeadlineAt: undefined,
      stopReason: undefined,
      result: undefined,
      currentStage: fromStage,
      progress: undefined,
      pid: undefined,
      process: undefined,
    };
    this.armJobTimeout(running);
    // The job is running in memory at once (no second start), and in the queue's journal file
    // before its process exists: a crash of this process cannot lose the record then, and the
    // next holder adopts the run. The process does not wait for the sync as well: what a power
    // cut could lose with it is a start less than a sync old, and the process goes with the power.
    let launched = false;
    const launch = (): void => {
      if (launched) return;
      launched = true;
      const current = this.host.state.jobs.get(running.id);
      if (this.disposed || !current || current.state !== 'running' || current.attempts !== running.attempts) return;
      if (current.stopReason) {
        this.finish(current, { exitCode: null, signal: null, error: undefined });
        return;
      }
      try {
        this.runner.start({
          jobId: current.id,
          attempt: current.attempts,
          stages: current.stages,
          fromStage,
          checkpoint: current.checkpoint,
        });
      } catch (error) {
        // Called from the journal's write: say it here, and end the job rather than leave it running with no process.
        this.logger.error(`[scheduler] could not start ${current.id}: ${String(error)}`);
        this.finish(current, {
          exitCode: null,
          signal: null,
          error: `could not start: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    };
    this.host
      .mutate([{ t: 'job', job: running }], { onWritten: launch })
      .then(launch, (error: unknown) => this.logger.error(`[scheduler] could not record the start of ${job.id}: ${String(error)}`));
  }

  private onRunEvent(event: RunEvent): void {
    if (this.disposed) return;
    const job = this.host.state.jobs.get(event.jobId);
    if (!job || job.state !== 'running' || job.attempts !== event.attempt) return;
    switch (event.type) {
      case 'started': {
        // Its process started when its runner says, a little after the start was recorded here:
        // its duration counts from then, and so does its time limit, so that a job stopped after
        // "1 s" never shows a shorter run. The limit armed from the recorded start is on disk
        // before the process exists and is only ever moved later, so no restart can lose it.
        const deadlineAt =
          job.timeoutMs === undefined || event.at === undefined
            ? job.deadlineAt
            : Math.max(job.deadlineAt ?? 0, this.clock.now() + job.timeoutMs - this.elapsedSince(event.at));
        const updated = { ...job, pid: event.pid, startedAt: event.at ?? job.startedAt, deadlineAt };
        if (deadlineAt !== job.deadlineAt) this.armJobTimeout(updated);
        void this.update(updated);
        break;
      }
      case 'stageStarted': {
        const stage = job.stages[event.stage];
        const updated = {
          ...job,
          currentStage: event.stage,
          process: event.process,
          stageDeadlineAt: stage?.timeoutMs === undefined ? undefined : this.clock.now() + stage.timeoutMs - this.elapsedSince(event.at),
        };
        this.armStageTimeout(updated);
        void this.update(updated);
        break;
      }
      case 'progress':
        this.onProgress(job, event.fraction, event.message);
        break;
      case 'checkpoint':
        void this.update({ ...job, checkpoint: event.checkpoint });
        break;
      case 'stageFinished': {
        const name = job.stages[event.stage]?.name;
        this.timersOf(job.id).stage?.dispose();
        if (event.exitCode === 0 && name !== undefined && !job.completedStages.includes(name)) {
          void this.update({ ...job, completedStages: [...job.completedStages, name], stageDeadlineAt: undefined });
        }
        break;
      }
      case 'exited':
        // A stop that was asked for ends as asked (cancelled, timed out), owner or not.
        if (event.interrupted && job.stopReason === undefined) this.interrupt(job, event.error ?? 'its runner lost the job');
        else this.finish(job, event);
        break;
    }
  }

  /**
   * How long ago (by this machine's wall clock) a runner's record was written: a stage start
   * replayed after adoption has used that much of its time limit already, and does not get it
   * again. Measured apart from the scheduler's clock, which need not be the wall clock.
   */
  private elapsedSince(at: number | undefined): number {
    return at === undefined ? 0 : Math.max(0, Date.now() - at);
  }

  private onProgress(job: Job, fraction: number | undefined, message: string | undefined): void {
    const now = this.clock.now();
    const wait = (this.lastProgressAt.get(job.id) ?? -Infinity) + PROGRESS_INTERVAL_MS - now;
    if (wait <= 0) {
      this.lastProgressAt.set(job.id, now);
      void this.update({ ...job, progress: { fraction, message } });
      return;
    }
    this.pendingProgress.set(job.id, { attempt: job.attempts, fraction, message });
    const timers = this.timersOf(job.id);
    timers.progress ??= this.clock.setTimer(() => {
      timers.progress = undefined;
      const pending = this.pendingProgress.get(job.id);
      this.pendingProgress.delete(job.id);
      const current = this.host.state.jobs.get(job.id);
      if (!pending || !current || current.state !== 'running' || current.attempts !== pending.attempt) return;
      this.lastProgressAt.set(job.id, this.clock.now());
      void this.update({ ...current, progress: { fraction: pending.fraction, message: pending.message } });
    }, wait);
  }

  /** Records what a run reported: it happened, so a failed commit keeps it to be written again. */
  private update(job: Job): Promise<void> {
    return this.host
      .mutate([{ t: 'job', job }], { onFailure: 'keep' })
      .catch((error: unknown) => this.logger.error(`[scheduler] could not record a change of ${job.id}: ${String(error)}`));
  }

  private finish(job: Job, exit: RunExit): void {
    this.disposeRunTimers(job.id);
    const next = this.settled(job, exit);
    if (next.state === 'delayed') this.armStart(next);
    void this.update(next).then(() => this.pump());
    // The slot is free in memory now; pump after the commit too, in case this one was first.
    this.pump();
  }

  /**
   * What a run's end makes of the job, as decided by its retry policy (retryPolicy.ts). Its start
   * and finish times are the runner's when it has them (a supervisor's records): a job may end long
   * before a host hears of it.
   */
  private settled(job: Job, exit: RunExit): Job {
    const now = this.clock.now();
    const finishedAt = exit.at ?? now;
    const startedAt = exit.startedAt ?? job.startedAt;
    const files = job.stages
      .filter((stage) => job.completedStages.includes(stage.name))
      .flatMap((stage) => stage.outputs.map((output) => resolve(stage.cwd, output)).filter((path) => existsSync(path)));
    const base: Job = {
      ...job,
      startedAt,
      pid: undefined,
      process: undefined,
      deadlineAt: undefined,
      stageDeadlineAt: undefined,
      stopReason: undefined,
      finishedAt,
      actualDurationMs: startedAt === undefined ? undefined : Math.max(0, finishedAt - startedAt),
    };
    const result = { exitCode: exit.exitCode, signal: exit.signal, warnings: [], files };
    const decision = decideAfterExit(job, exit, now, this.random);
    switch (decision.kind) {
      case 'cancelled':
        return { ...base, state: 'cancelled', result: { ...result, error: 'cancelled' } };
      case 'succeeded':
        return { ...base, state: 'succeeded', result, progress: { ...job.progress, fraction: 1 } };
      case 'retry':
        return { ...base, state: 'delayed', finishedAt: undefined, notBefore: decision.at, result: { ...result, error: decision.error } };
      case 'failed':
        return { ...base, state: 'failed', result: { ...result, error: decision.error, ...(decision.timedOut ? { timedOut: true } : {}) } };
    }
  }

  /**
   * The runner lost a running job without an exit record (its supervisor died under a live host):
   * interrupted, as when the loss is found at startup, and resumable from what the runner's records
   * say. Not a failed attempt: no retry is spent.
   */
  private interrupt(job: Job, error: string): void {
    this.disposeRunTimers(job.id);
    void this.update(this.lostJob(job, 'interrupted', error)).then(() => this.pump());
    this.pump();
  }

  /** A running job whose run ended with no exit record, folded with what its runner recorded. */
  private lostJob(job: Job, state: 'interrupted' | 'cancelled', error: string): Job {
    const run = this.runner.recover?.({ jobId: job.id, attempt: job.attempts, startedAt: job.startedAt });
    // A lost journal is said in the job's own error, so the loss is never a plain interruption.
    if (run?.journalProblem) error = `${error}; ${run.journalProblem}`;
    return {
      ...withRecoveredRun(job, run),
      state,
      pid: undefined,
      process: undefined,
      deadlineAt: undefined,
      stageDeadlineAt: undefined,
      stopReason: undefined,
      result: { exitCode: null, signal: null, error: state === 'cancelled' ? 'cancelled' : error, warnings: [], files: [] },
    };
  }

  private recovered(job: Job): Job {
    return withRecoveredRun(job, this.runner.recover?.({ jobId: job.id, attempt: job.attempts, startedAt: job.startedAt }));
  }

  private disposeRunTimers(jobId: string): void {
    const timers = this.timersOf(jobId);
    timers.job?.dispose();
    timers.stage?.dispose();
    timers.progress?.dispose();
    timers.progress = undefined;
    this.pendingProgress.delete(jobId);
  }

  private timersOf(jobId: string): JobTimers {
    let timers = this.timers.get(jobId);
    if (!timers) this.timers.set(jobId, (timers = {}));
    return timers;
  }

  /** Delayed start and retry backoff: the job becomes queued at `notBefore`. */
  armStart(job: Job): void {
    if (this.disposed || job.notBefore === undefined) return;
    const timers = this.timersOf(job.id);
    timers.start?.dispose();
    timers.start = setDeadline(this.clock, job.notBefore, () => {
      const current = this.host.state.jobs.get(job.id);
      if (!current || current.state !== 'delayed') return;
      void this.update({ ...current, state: 'queued', notBefore: undefined });
      this.pump();
    });
  }

  private armJobTimeout(job: Job): void {
    const timers = this.timersOf(job.id);
    timers.job?.dispose();
    if (job.deadlineAt !== undefined) {
      timers.job = setDeadline(this.clock, job.deadlineAt, () => this.stop(job.id, job.attempts, 'jobTimeout'));
    }
  }

  private armStageTimeout(job: Job): void {
    const timers = this.timersOf(job.id);
    timers.stage?.dispose();
    if (job.stageDeadlineAt !== undefined) {
      timers.stage = setDeadline(this.clock, job.stageDeadlineAt, () => this.stop(job.id, job.attempts, 'stageTimeout'));
    }
  }

  /**
   * Records why a running job is being stopped and, once that is on disk, stops it; its exit
   * settles the state. Never a signal first: a host that dies after it would leave a job that
   * exited on a signal with no reason on record, a failure to retry.
   */
  stop(jobId: string, attempt: number, reason: 'cancel' | 'jobTimeout' | 'stageTimeout'): Promise<void> {
    const job = this.host.state.jobs.get(jobId);
    if (!job || job.state !== 'running' || job.attempts !== attempt || job.stopReason) return Promise.resolve();
    const committed = this.host.mutate([{ t: 'job', job: { ...job, stopReason: reason } }]);
    // A failed commit is undone: the job is left to run, and its deadline is not met (the log says why).
    void committed.then(
      () => this.killIfStopping(jobId, attempt),
      () => undefined,
    );
    return committed;
  }

  /** Kills the run once its stop is on disk, unless it ended meanwhile. */
  killIfStopping(jobId: string, attempt: number): void {
    const job = this.host.state.jobs.get(jobId);
    if (!this.disposed && job?.state === 'running' && job.attempts === attempt && job.stopReason) this.runner.kill(jobId);
  }

  /** Forgets a job's timers: it was cancelled while pending, or removed. */
  forget(jobId: string): void {
    const timers = this.timers.get(jobId);
    timers?.start?.dispose();
    timers?.job?.dispose();
    timers?.stage?.dispose();
    timers?.progress?.dispose();
    this.timers.delete(jobId);
    this.pendingProgress.delete(jobId);
    this.lastProgressAt.delete(jobId);
  }

  dispose(): void {
    this.disposed = true;
    this.subscription.dispose();
    for (const id of [...this.timers.keys()]) this.forget(id);
  }
}

/**
 * Where a job (re)starts: at its first stage that did not complete, or that completed but whose
 * declared outputs are no longer all there (file verification), since later stages build on them.
 */
export function firstStageToRun(job: Pick<Job, 'stages' | 'completedStages'>): number {
  const index = job.stages.findIndex(
    (stage) => !job.completedStages.includes(stage.name) || stage.outputs.some((output) => !existsSync(resolve(stage.cwd, output))),
  );
  return Math.max(0, index);
}

type RunExit = Pick<Extract<RunEvent, { type: 'exited' }>, 'exitCode' | 'signal' | 'error' | 'unrecoverable' | 'at' | 'startedAt'>;

/** Folds a runner's records of an interrupted run into the queue's copy of the job, which can lag them. */
function withRecoveredRun(job: Job, run: RecoveredRun | undefined): Job {
  if (!run) return job;
  const names = new Set([
    ...job.completedStages,
    ...run.succeededStages.map((index) => job.stages[index]?.name).filter((name): name is string => name !== undefined),
  ]);
  return {
    ...job,
    completedStages: job.stages.map((stage) => stage.name).filter((name) => names.has(name)),
    currentStage: run.stage ?? job.currentStage,
    checkpoint: run.checkpoint ?? job.checkpoint,
  };
}
