import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Logger } from '../logger';
import { buildJob } from './jobDefinitions';
import { JobError } from './jobErrors';
import type { CommandResult, Job, QueueCommand, QueueRecord } from './jobModel';
import { FINISHED_STATES, PENDING_STATES } from './jobModel';
import type { JobRunner } from './jobRunner';
import type { JobScheduler } from './jobScheduler';
import type { QueueState } from './queueState';
import { removeOutputs } from './discardOutputs';

/** What a command's plan may read and arm: the queue's state now and its scheduler. */
export interface PlanContext {
  readonly state: QueueState;
  readonly now: number;
  /** Relative working directories resolve against it. */
  readonly baseDir: string;
  readonly scheduler: JobScheduler;
  readonly runner: JobRunner;
  readonly logger: Logger;
}

export interface CommandPlan {
  readonly records: QueueRecord[];
  readonly result: CommandResult;
  readonly after?: () => void;
  readonly afterCommit?: () => void;
}

export function requireJob(state: QueueState, id: string): Job {
  const job = state.jobs.get(id);
  if (!job) throw new JobError('jobNotFound', `There is no job ${id} in the queue.`);
  return job;
}

/**
 * Checks a command against the state and says what records it writes; changes nothing itself.
 * `after` runs once the change is in memory, `afterCommit` once it is on disk.
 */
export function planCommand(ctx: PlanContext, command: QueueCommand): CommandPlan {
  const now = ctx.now;
  switch (command.type) {
    case 'enqueue': {
      const id = command.jobId ?? randomUUID();
      if (ctx.state.jobs.has(id)) throw new JobError('duplicateJob', `A job with the id ${id} is already in the queue.`);
      const job = buildJob(command, { id, now, position: ctx.state.nextPosition(), baseDir: ctx.baseDir });
      return { records: [{ t: 'job', job }], result: { jobId: id }, after: () => ctx.scheduler.armStart(job) };
    }
    case 'cancel': {
      const job = requireJob(ctx.state, command.jobId);
      if (job.state === 'running') {
        if (job.stopReason === 'cancel') return { records: [], result: { jobId: job.id } };
        // The reason is on disk before any signal: a job stopped by a signal with no reason on record would be retried.
        return {
          records: [{ t: 'job', job: { ...job, stopReason: 'cancel' } }],
          result: { jobId: job.id },
          afterCommit: () => ctx.scheduler.killIfStopping(job.id, job.attempts),
        };
      }
      if (FINISHED_STATES.has(job.state)) {
        throw new JobError(
          'invalidState',
          `The job "${job.name}" has already ${job.state === 'cancelled' ? 'been cancelled' : job.state}.`,
        );
      }
      const cancelled: Job = {
        ...job,
        state: 'cancelled',
        notBefore: undefined,
        finishedAt: now,
        result: { exitCode: null, signal: null, error: 'cancelled', warnings: [], files: [] },
      };
      return { records: [{ t: 'job', job: cancelled }], result: { jobId: job.id }, after: () => ctx.scheduler.forget(job.id) };
    }
    case 'retry':
    case 'resume': {
      const job = requireJob(ctx.state, command.jobId);
      if (!FINISHED_STATES.has(job.state) && job.state !== 'interrupted') {
        throw new JobError('invalidState', `The job "${job.name}" is ${job.state}; only a finished or interrupted job can be run again.`);
      }
      if (command.type === 'resume' && job.state === 'succeeded') {
        throw new JobError('invalidState', `The job "${job.name}" succeeded; there is nothing to resume.`);
      }
      const fresh = command.type === 'retry';
      const again: Job = {
        ...job,
        state: 'queued',
        attempts: 0,
        position: ctx.state.nextPosition(),
        startedAt: undefined,
        finishedAt: undefined,
        notBefore: undefined,
        result: undefined,
        progress: undefined,
        stopReason: undefined,
        ...(fresh ? { completedStages: [], checkpoint: undefined, currentStage: undefined } : {}),
      };
      return { records: [{ t: 'job', job: again }], result: { jobId: job.id } };
    }
    case 'discard': {
      const job = requireJob(ctx.state, command.jobId);
      if (job.state !== 'interrupted') {
        throw new JobError('invalidState', `The job "${job.name}" is ${job.state}; only an interrupted job can be discarded.`);
      }
      const partial = job.stages
        .filter((stage) => !job.completedStages.includes(stage.name))
        .flatMap((stage) => stage.outputs.map((output) => ({ path: resolve(stage.cwd, output), cwd: stage.cwd })));
      const abandoned: Job = {
        ...job,
        state: 'cancelled',
        abandoned: true,
        finishedAt: now,
        notBefore: undefined,
        result: { exitCode: null, signal: null, error: 'discarded after an interruption', warnings: [], files: [] },
      };
      // Outputs go once the decision is on disk: a crash before it leaves the job resumable, with its files.
      return {
        records: [{ t: 'job', job: abandoned }],
        result: { jobId: job.id, count: partial.length },
        afterCommit: () => void removeOutputs(job, partial, ctx.baseDir, ctx.logger),
      };
    }
    case 'move':
      return { records: planMove(ctx, command.jobId, command.before, command.after), result: { jobId: command.jobId } };
    case 'setPriority': {
      const job = requireJob(ctx.state, command.jobId);
      if (!PENDING_STATES.has(job.state)) {
        throw new JobError('invalidState', `The job "${job.name}" is ${job.state}; only a waiting job can be re-prioritised.`);
      }
      return { records: [{ t: 'job', job: { ...job, priority: command.priority } }], result: { jobId: job.id } };
    }
    case 'clearFinished': {
      const only = command.jobIds && new Set(command.jobIds);
      const ids = [...ctx.state.jobs.values()]
        .filter((job) => FINISHED_STATES.has(job.state) && (!only || only.has(job.id)))
        .map((job) => job.id);
      return {
        records: ids.length > 0 ? [{ t: 'remove', ids }] : [],
        result: { count: ids.length },
        after: () => ids.forEach((id) => ctx.scheduler.forget(id)),
        // Their files go once the removal is durable: a crash before it leaves the jobs with their output.
        afterCommit: ids.length > 0 ? () => void ctx.runner.forget?.(ids) : undefined,
      };
    }
    case 'setPaused':
      return {
        records: [{ t: 'flags', flags: { ...ctx.state.flags, paused: command.paused } }],
        result: {},
        after: () => (command.paused ? undefined : ctx.scheduler.start()),
      };
    case 'setAutoRun':
      return { records: [{ t: 'flags', flags: { ...ctx.state.flags, autoRun: command.autoRun } }], result: {} };
    case 'setConcurrency':
      return { records: [{ t: 'flags', flags: { ...ctx.state.flags, concurrency: command.limit } }], result: {} };
  }
}

/** A position strictly between the new neighbours; when floating point runs out of room, renumbers all. */
function planMove(ctx: PlanContext, jobId: string, before: string | undefined, after: string | undefined): QueueRecord[] {
  const job = requireJob(ctx.state, jobId);
  const targetId = (before ?? after) as string;
  const target = requireJob(ctx.state, targetId);
  for (const j of [job, target]) {
    if (!PENDING_STATES.has(j.state)) {
      throw new JobError('invalidState', `The job "${j.name}" is ${j.state}; only waiting jobs can be moved.`);
    }
  }
  if (job.id === target.id) return [];
  const order = ctx.state.pendingJobs().filter((j) => j.id !== job.id);
  const index = order.findIndex((j) => j.id === target.id) + (after ? 1 : 0);
  const previous = order[index - 1];
  const next = order[index];
  const priority = target.priority;
  const low = previous && previous.priority === priority ? previous.position : undefined;
  const high = next && next.priority === priority ? next.position : undefined;
  const position =
    low !== undefined && high !== undefined ? (low + high) / 2 : low !== undefined ? low + 1 : high !== undefined ? high - 1 : 0;
  if ((low === undefined || position > low) && (high === undefined || position < high)) {
    return [{ t: 'job', job: { ...job, priority, position } }];
  }
  order.splice(index, 0, { ...job, priority });
  return order.map((j, i) => ({ t: 'job', job: { ...j, position: i + 1 } }) as QueueRecord);
}
