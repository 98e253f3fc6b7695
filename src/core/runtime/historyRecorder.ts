import type { Job, JobState } from '../queue/jobModel';
import { FINISHED_STATES } from '../queue/jobModel';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import type { HistoryEntryInput, JobFinalState } from '../history/historyEntry';
import type { JobHistory } from '../history/jobHistory';

/** How much of a job's output the history keeps: the end, where the error usually is. */
export const OUTPUT_TAIL_BYTES = 4096;

/**
 * Writes finished jobs into the history, in the order the queue finished them. The queue's
 * commit and the history's are two files, so a crash can fall between them: `reconcile` records,
 * at open, the finished jobs the history has not seen yet. An entry's id is the job's id and its
 * finish time, so each run of a job is one entry, and recording one twice replaces it.
 */
export class HistoryRecorder {
  private chain: Promise<void> = Promise.resolve();
  private readonly logger: Logger;

  constructor(
    private readonly history: JobHistory,
    private readonly readOutputTail: (job: Job) => Promise<string | undefined>,
    logger?: Logger,
    /**
     * Whether this process may still write the history (it holds the queue's lease). A recording
     * queued when the lease moved is dropped: the next holder's `reconcile` records that job.
     */
    private readonly mayWrite: () => boolean = () => true,
  ) {
    this.logger = logger ?? nullLogger;
  }

  /** Call with every durable change of a job; records the ones that just ended. */
  jobChanged(job: Job, previousState: JobState | undefined): Promise<void> {
    if (!FINISHED_STATES.has(job.state) || (previousState !== undefined && FINISHED_STATES.has(previousState))) return Promise.resolve();
    return this.record(job);
  }

  /**
   * Records finished jobs the history missed (the last holder died between the two commits, or
   * its recording was dropped when the lease moved). A job is missed when its entry is not in the
   * active history. Finish times are the supervisors' own (a job that ended while no window was
   * open keeps the time it really ended), so the order jobs were recorded in is not the order of
   * their finish times: a missed job may have finished before entries recorded ahead of it, and
   * looking only past the newest finish time would skip it. Jobs older than every active entry
   * are left alone: their entries may have been moved to the archive.
   */
  reconcile(jobs: readonly Job[]): Promise<number> {
    const bounds = this.history.active.rows('SELECT min(finished_at) AS oldest FROM entries')[0];
    const oldest = Number(bounds?.oldest ?? 0);
    const finished = jobs.filter(
      (job) => FINISHED_STATES.has(job.state) && job.finishedAt !== undefined && Math.round(job.finishedAt) >= oldest,
    );
    const recorded = new Set(
      finished.length === 0
        ? []
        : this.history.active.rows('SELECT job_id FROM entries WHERE finished_at >= ?', [oldest]).map((row) => String(row.job_id)),
    );
    const missed = finished.filter((job) => !recorded.has(historyEntryId(job))).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const job of missed) void this.record(job);
    if (missed.length > 0) this.logger.info(`[history] recorded ${missed.length} finished job(s) the history had not seen`);
    return this.chain.then(() => missed.length);
  }

  /** Resolves when every recording asked for so far is on disk (or has failed and been logged). */
  whenIdle(): Promise<void> {
    return this.chain;
  }

  private record(job: Job): Promise<void> {
    // One at a time, in order: the history's order is the order jobs finished in.
    this.chain = this.chain.then(async () => {
      try {
        const tail = await this.readOutputTail(job).catch(() => undefined);
        if (!this.mayWrite()) return;
        await this.history.append(historyEntryOf(job, tail));
      } catch (error) {
        this.logger.error(`[history] could not record "${job.name}": ${error instanceof Error ? error.message : String(error)}`);
      }
    });
    return this.chain;
  }
}

/** The history's view of a job that ended. */
export function historyEntryOf(job: Job, outputTail: string | undefined): HistoryEntryInput {
  const finishedAt = job.finishedAt ?? Date.now();
  const result = job.result;
  const error = job.abandoned ? 'abandoned: discarded after an interruption' : result?.error;
  return {
    jobId: historyEntryId(job),
    name: job.name,
    ...(job.kind === 'command'
      ? { command: job.stages[0]?.command ?? '' }
      : { stages: job.stages.map((stage) => ({ name: stage.name, command: stage.command })) }),
    cwd: job.stages[0]?.cwd,
    state: finalState(job),
    attempts: job.attempts,
    createdAt: Math.round(job.createdAt),
    ...(job.startedAt !== undefined ? { startedAt: Math.round(job.startedAt) } : {}),
    finishedAt: Math.round(finishedAt),
    ...(job.estimatedDurationMs !== undefined ? { estimatedMs: job.estimatedDurationMs } : {}),
    ...(job.actualDurationMs !== undefined ? { durationMs: job.actualDurationMs } : {}),
    ...(result?.exitCode !== null && result?.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
    ...(error !== undefined ? { error } : {}),
    warnings: result?.warnings ?? [],
    ...(outputTail !== undefined ? { outputTail } : {}),
    files: result?.files ?? [],
    ...(job.checkpoint !== undefined ? { checkpoints: { count: 1, last: job.checkpoint } } : {}),
    tags: job.tags,
  };
}

export function historyEntryId(job: Job): string {
  return `${job.id}@${Math.round(job.finishedAt ?? 0)}`;
}

function finalState(job: Job): JobFinalState {
  // A discarded job was given up after an interruption: the history says so.
  if (job.abandoned) return 'interrupted';
  if (job.state === 'failed' && job.result?.timedOut) return 'timedOut';
  return job.state as JobFinalState;
}
