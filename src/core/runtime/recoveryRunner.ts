import type { Logger } from '../logger';
import type { Job } from '../queue/jobModel';
import { describeRecovery } from '../queue/jobSummary';
import type { QueueSession } from '../session/queueSession';
import { decideRecovery, interruptionKey } from './recoveryPolicy';
import type { RecoveryPolicy } from './recoveryPolicy';
import type { RuntimeReport } from './runtimeReports';

/**
 * Runs the recovery policy (`lifeline.recovery.policy`) over the interrupted jobs this runtime has
 * not handled yet: resumes them, asks about them (a `recoveryNeeded` report), or leaves them. Only
 * the holder decides, so two processes never both ask or both resume.
 */
export class RecoveryRunner {
  /** Interruptions handled (`jobId:interruptions`): each is decided once. */
  private readonly handled = new Set<string>();
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly queue: QueueSession,
    private readonly policy: () => RecoveryPolicy,
    private readonly logger: Logger,
    private readonly report: (report: RuntimeReport) => void,
  ) {}

  /** Whether the holder's queue has an interruption not handled yet. */
  hasFresh(): boolean {
    return (
      this.queue.role === 'holder' && this.queue.jobs.some((job) => job.state === 'interrupted' && !this.handled.has(interruptionKey(job)))
    );
  }

  /** Marks interruptions as handled elsewhere (a restore leaves them to a person). */
  markHandled(jobs: readonly Job[]): void {
    for (const job of jobs) this.handled.add(interruptionKey(job));
  }

  /** One pass at a time: a pass that resumes jobs must not be overtaken by the next change. */
  schedule(): void {
    this.running = this.running.then(() => this.pass()).catch((error: unknown) => this.logger.error(`[recovery] ${String(error)}`));
  }

  private async pass(): Promise<void> {
    if (this.queue.role !== 'holder') return;
    const policy = this.policy();
    const decision = decideRecovery(this.queue.jobs, this.handled, policy);
    this.markHandled(decision.fresh);
    if (decision.fresh.length === 0 || policy === 'off') return;
    const { logger } = this;
    logger.info(
      `[recovery] ${decision.fresh.length} interrupted job(s), policy ${policy}: ${decision.fresh.map((job) => `"${job.name}" (${describeRecovery(job) || 'from the start'})`).join('; ')}`,
    );
    for (const job of decision.resume) {
      await this.queue.execute({ type: 'resume', jobId: job.id }, undefined, { kind: 'runtime', label: `recovery policy ${policy}` }).then(
        () => logger.info(`[recovery] resumed "${job.name}" automatically`),
        (error: unknown) => logger.warn(`[recovery] could not resume "${job.name}": ${String(error)}`),
      );
    }
    // Not awaited by anyone: a question left unanswered must not hold back the next interruption.
    if (decision.ask.length > 0) this.report({ type: 'recoveryNeeded', jobs: decision.ask, question: decision.question });
  }
}
