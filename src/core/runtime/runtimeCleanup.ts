import { keptJobIds } from './restoreKeep';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import type { Disposable } from '../emitter';
import { LifelineError } from '../errors';
import type { JobHistory } from '../history/jobHistory';
import type { Logger } from '../logger';
import type { AuditOrigin, Job } from '../queue/jobModel';
import { FINISHED_STATES } from '../queue/jobModel';
import type { QueueSession } from '../session/queueSession';
import { SWEEP_QUIET_MS } from '../supervisors/jobFiles';
import type { CleanupCount } from './cleanupFiles';
import { formatMegabytes, NOTHING, quarantineFolders, removeJobFiles, removeOldQuarantine } from './cleanupFiles';
import { historyEntryId } from './historyRecorder';
import type { RuntimeAudit } from './runtimeAudit';
import type { RuntimeBackups } from './runtimeBackups';
import type { RuntimeOptions } from './runtimeOptions';

const DAY_MS = 24 * 60 * 60_000;
/** The first periodic cleanup runs this long after the process takes the queue: not during start-up. */
export const FIRST_CLEANUP_DELAY_MS = 5 * 60_000;

export type CleanupErrorReason = 'notHolder' | 'closed';

export class CleanupError extends LifelineError<CleanupErrorReason> {
  constructor(reason: CleanupErrorReason, message: string) {
    super('CleanupError', reason, message);
  }
}

/** What one cleanup removed (docs/cleanup.md). */
export interface CleanupReport {
  readonly at: number;
  /** Files of jobs no longer in the queue. */
  readonly orphanedJobs: CleanupCount;
  /** Files of failed and cancelled jobs past `failedJobRetentionDays` (the jobs stay in the queue). */
  readonly failedJobLeftovers: CleanupCount;
  /** Finished jobs past `finishedJobRetentionDays` removed from the queue (`items`), with their files. */
  readonly finishedJobs: CleanupCount;
  readonly quarantine: CleanupCount;
  /** Automatic backups past their count and age caps. */
  readonly backups: CleanupCount;
  readonly bytesFreed: number;
  /** Jobs left alone because their files changed within the last minutes. */
  readonly busyJobs: number;
  /** Finished jobs past retention kept because the history does not show them (yet). */
  readonly notInHistory: number;
}

export interface RuntimeCleanupOptions {
  readonly storageDirectory: string;
  readonly queue: QueueSession;
  readonly backups: RuntimeBackups;
  readonly audit?: RuntimeAudit;
  /** The history while open in this process: finished jobs leave the queue only once it has them. */
  readonly history: () => JobHistory | undefined;
  readonly logger: Logger;
  readonly options: () => RuntimeOptions;
  /** @default systemClock */
  readonly clock?: Clock;
  /** A job whose files changed this recently is never touched. @default SWEEP_QUIET_MS (10 minutes) */
  readonly quietForMs?: number;
}

/**
 * Clean Up Now and the periodic cleanup, in the process that holds the queue (docs/cleanup.md):
 * files of jobs no longer in the queue, leftovers of failed and cancelled jobs past their
 * retention, finished jobs past theirs (they stay in the history), old quarantined files, and
 * automatic backups past their caps. A job that is not finished, or whose files changed within
 * `quietForMs`, is never touched. One cleanup at a time.
 */
export class RuntimeCleanup {
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly roleSubscription: Disposable;
  private closed = false;

  constructor(private readonly options: RuntimeCleanupOptions) {
    this.clock = options.clock ?? systemClock;
    this.roleSubscription = options.queue.onDidChangeRole(() => this.follow());
    this.follow();
  }

  private get jobsDirectory(): string {
    return join(this.options.storageDirectory, 'jobs');
  }

  /** Arms the periodic cleanup while this process holds the queue, and re-arms it after a settings change. */
  follow(): void {
    this.timer?.dispose();
    this.timer = undefined;
    const hours = this.options.options().cleanupIntervalHours;
    if (this.closed || this.options.queue.role !== 'holder' || hours <= 0) return;
    this.arm(FIRST_CLEANUP_DELAY_MS);
  }

  private arm(delayMs: number): void {
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      void this.runNow({ kind: 'runtime', label: 'periodic cleanup' })
        .catch((error: unknown) => this.options.logger.warn(`[cleanup] the periodic cleanup failed: ${String(error)}`))
        .finally(() => {
          const hours = this.options.options().cleanupIntervalHours;
          if (!this.closed && !this.timer && this.options.queue.role === 'holder' && hours > 0) this.arm(hours * 60 * 60_000);
        });
    }, delayMs);
  }

  /** Cleans up now; resolves with what was removed. Rejects with a CleanupError in a process that does not hold the queue. */
  runNow(origin?: AuditOrigin): Promise<CleanupReport> {
    const run = this.running.then(() => this.clean(origin));
    this.running = run.catch(() => undefined);
    return run;
  }

  private async clean(origin: AuditOrigin | undefined): Promise<CleanupReport> {
    if (this.closed) throw new CleanupError('closed', 'The workspace is closing.');
    const { queue, logger } = this.options;
    if (queue.role !== 'holder') {
      throw new CleanupError('notHolder', 'Another window holds this workspace’s queue: clean up from that window.');
    }
    const settings = this.options.options();
    const now = this.clock.now();
    const quietForMs = this.options.quietForMs ?? SWEEP_QUIET_MS;
    const fileOptions = { quietForMs, now: () => this.clock.now(), logger };
    const finishedLongAgo = (job: Job | undefined, days: number): job is Job =>
      job !== undefined &&
      days > 0 &&
      FINISHED_STATES.has(job.state) &&
      job.finishedAt !== undefined &&
      job.finishedAt < now - days * DAY_MS;

    // Finished jobs past retention leave the queue, once the history shows them; their files go first.
    let finishedJobs = NOTHING;
    let notInHistory = 0;
    const busy = new Set<string>();
    const expired = queue.jobs.filter((job) => finishedLongAgo(job, settings.finishedJobRetentionDays));
    if (expired.length > 0) {
      const recorded = await this.recordedInHistory(expired);
      notInHistory = expired.length - recorded.length;
      const ids = new Set(recorded.map((job) => job.id));
      const files = await removeJobFiles(this.jobsDirectory, (id) => finishedLongAgo(queue.getJob(id), settings.finishedJobRetentionDays), {
        ...fileOptions,
        only: ids,
      });
      for (const id of files.busy) busy.add(id);
      const leaving = [...ids].filter((id) => !files.busy.has(id));
      const { count } =
        leaving.length > 0
          ? await queue.execute({ type: 'clearFinished', jobIds: leaving }, undefined, cleanupOrigin(origin))
          : { count: 0 };
      finishedJobs = { ...files.removed, items: count ?? 0 };
    }

    const leftovers = await removeJobFiles(
      this.jobsDirectory,
      (id) => {
        const job = queue.getJob(id);
        return (job?.state === 'failed' || job?.state === 'cancelled') && finishedLongAgo(job, settings.failedJobRetentionDays);
      },
      fileOptions,
    );
    // No job in the queue: a job added meanwhile is seen by the second look, a run started by the quiet check.
    // Jobs a restore took out keep their files while its safety backup exists (restoreKeep.ts).
    const kept = await keptJobIds(this.options.storageDirectory);
    const orphans = await removeJobFiles(this.jobsDirectory, (id) => queue.getJob(id) === undefined && !kept.has(id), fileOptions);
    for (const id of [...leftovers.busy, ...orphans.busy]) busy.add(id);

    const quarantine =
      settings.quarantineRetentionDays > 0
        ? await removeOldQuarantine(
            quarantineFolders(this.options.storageDirectory),
            settings.quarantineRetentionDays * DAY_MS,
            now,
            logger,
          )
        : NOTHING;
    const backups = await this.rotateBackups();

    const report: CleanupReport = {
      at: now,
      orphanedJobs: orphans.removed,
      failedJobLeftovers: leftovers.removed,
      finishedJobs,
      quarantine,
      backups,
      bytesFreed: orphans.removed.bytes + leftovers.removed.bytes + finishedJobs.bytes + quarantine.bytes + backups.bytes,
      busyJobs: busy.size,
      notInHistory,
    };
    logger.info(`[cleanup] ${describeCleanup(report)}`);
    await this.options.audit
      ?.record({
        action: 'cleanup.run',
        origin: cleanupOrigin(origin),
        detail: {
          bytesFreed: report.bytesFreed,
          orphanedJobs: orphans.removed.items,
          failedJobLeftovers: leftovers.removed.items,
          finishedJobs: finishedJobs.items,
          quarantineFiles: quarantine.files,
          backups: backups.items,
        },
      })
      .catch((error: unknown) => logger.warn(`[cleanup] could not write the audit entry: ${String(error)}`));
    return report;
  }

  /** The jobs whose run the history has: in its active entries, or older than all of them (archived). */
  private async recordedInHistory(jobs: readonly Job[]): Promise<Job[]> {
    const history = this.options.history();
    if (!history) {
      this.options.logger.info(`[cleanup] the history is not open: ${jobs.length} finished job(s) past retention stay in the queue`);
      return [];
    }
    await history.whenIdle();
    const oldest = Number(history.active.rows('SELECT min(finished_at) AS oldest FROM entries')[0]?.oldest ?? Infinity);
    const ids = new Set(history.active.rows('SELECT job_id FROM entries').map((row) => String(row.job_id)));
    return jobs.filter((job) => ids.has(historyEntryId(job)) || Math.round(job.finishedAt ?? 0) < oldest);
  }

  private async rotateBackups(): Promise<CleanupCount> {
    try {
      const manager = this.options.backups.manager;
      const sizes = new Map((await manager.list()).map((info) => [info.id, info.fileSize]));
      const deleted = await manager.rotate();
      return { items: deleted.length, files: deleted.length, bytes: deleted.reduce((sum, id) => sum + (sizes.get(id) ?? 0), 0) };
    } catch (error) {
      this.options.logger.warn(`[cleanup] could not rotate the backups: ${String(error)}`);
      return NOTHING;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.roleSubscription.dispose();
    this.timer?.dispose();
    await this.running;
  }
}

function cleanupOrigin(origin: AuditOrigin | undefined): AuditOrigin {
  return origin ?? { kind: 'runtime', label: 'cleanup' };
}

/** One line: what went and how much it freed. */
export function describeCleanup(report: CleanupReport): string {
  const parts: string[] = [];
  const say = (count: CleanupCount, what: string): void => {
    if (count.items > 0) parts.push(`${what} ${count.items} (${formatMegabytes(count.bytes)})`);
  };
  say(report.orphanedJobs, 'files of jobs no longer queued:');
  say(report.failedJobLeftovers, 'files of old failed or cancelled jobs:');
  say(report.finishedJobs, 'old finished jobs removed from the queue:');
  say(report.quarantine, 'old quarantined files:');
  say(report.backups, 'old automatic backups:');
  const removed = parts.length > 0 ? `removed ${parts.join('; ')}` : 'nothing to remove';
  const kept = report.busyJobs > 0 ? `; ${report.busyJobs} job(s) left alone because their files changed in the last minutes` : '';
  const unrecorded = report.notInHistory > 0 ? `; ${report.notInHistory} finished job(s) kept until the history has them` : '';
  return `${removed}; freed ${formatMegabytes(report.bytesFreed)}${kept}${unrecorded}`;
}
