import type { CommandAudit, CommandResult, Job, QueueFlags, QueueRecord, QueueSnapshot } from './jobModel';
import { compareJobs, PENDING_STATES, QUEUE_SNAPSHOT_VERSION, queueFlagsSchema } from './jobModel';

/** How many applied command ids are remembered for dedupe: far more than can be in flight. */
export const COMMAND_WINDOW = 10_000;

/**
 * How many commands' audit records the queue keeps (in memory and in its snapshot) after the audit
 * file has them: far more than the audit file lags behind (RuntimeAudit flushes every 64 entries),
 * so that the file can be completed from the queue after a crash (docs/audit.md).
 */
export const AUDIT_WINDOW = 1_000;

/**
 * The queue's state in memory, built from a snapshot plus journal records and changed only by
 * {@link QueueState.apply}, so the live queue and a replay after a crash cannot disagree.
 */
export class QueueState {
  readonly jobs = new Map<string, Job>();
  flags: QueueFlags = queueFlagsSchema.parse({});
  /** Insertion-ordered, so the oldest is evicted first. */
  readonly commands = new Map<string, CommandResult>();
  /** The newest commands' audit records by command id, insertion-ordered (oldest first). */
  readonly audit = new Map<string, CommandAudit>();
  private maxPosition = 0;

  static fromSnapshot(snapshot: QueueSnapshot | undefined): QueueState {
    const state = new QueueState();
    if (!snapshot) return state;
    state.flags = snapshot.flags;
    for (const job of snapshot.jobs) state.setJob(job);
    for (const [id, result] of snapshot.commands) state.commands.set(id, result);
    for (const [id, audit] of snapshot.audit ?? []) state.audit.set(id, audit);
    return state;
  }

  apply(record: QueueRecord): void {
    switch (record.t) {
      case 'job':
        this.setJob(record.job);
        break;
      case 'remove':
        for (const id of record.ids) this.jobs.delete(id);
        break;
      case 'flags':
        this.flags = record.flags;
        break;
      case 'cmd':
        this.commands.set(record.id, record.result);
        if (this.commands.size > COMMAND_WINDOW) {
          const oldest = this.commands.keys().next();
          if (!oldest.done) this.commands.delete(oldest.value);
        }
        if (record.audit) {
          this.audit.set(record.id, record.audit);
          if (this.audit.size > AUDIT_WINDOW) {
            const oldest = this.audit.keys().next();
            if (!oldest.done) this.audit.delete(oldest.value);
          }
        }
        break;
    }
  }

  private setJob(job: Job): void {
    this.jobs.set(job.id, job);
    if (job.position > this.maxPosition) this.maxPosition = job.position;
  }

  /** A position after every job ever placed, for a new job at the end of its priority. */
  nextPosition(): number {
    return Math.floor(this.maxPosition) + 1;
  }

  /** Queued and delayed jobs in queue order. */
  pendingJobs(): Job[] {
    const pending: Job[] = [];
    for (const job of this.jobs.values()) if (PENDING_STATES.has(job.state)) pending.push(job);
    return pending.sort(compareJobs);
  }

  /** All jobs in queue order (finished and running ones sort by the same rule). */
  orderedJobs(): Job[] {
    return [...this.jobs.values()].sort(compareJobs);
  }

  /** The next job to start, or undefined: the first queued job in order. */
  nextRunnable(group?: string): Job | undefined {
    let best: Job | undefined;
    for (const job of this.jobs.values()) {
      if (job.state !== 'queued' || (group !== undefined && job.group !== group)) continue;
      if (!best || compareJobs(job, best) < 0) best = job;
    }
    return best;
  }

  runningCount(): number {
    let count = 0;
    for (const job of this.jobs.values()) if (job.state === 'running') count++;
    return count;
  }

  toSnapshot(): QueueSnapshot {
    return {
      version: QUEUE_SNAPSHOT_VERSION,
      flags: this.flags,
      jobs: [...this.jobs.values()],
      commands: [...this.commands],
      audit: [...this.audit],
    };
  }
}
