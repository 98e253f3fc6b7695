import * as vscode from 'vscode';
import type { Job } from '../core/queue/jobModel';
import { MAX_AUTO_RESUMED_INTERRUPTIONS } from '../core/queue/jobModel';
import { describeRecovery } from '../core/queue/jobSummary';
import type { Logger } from '../core/logger';
import type { QueueHost } from './queueHost';
import { readSettings } from './settings';

/**
 * Applies `lifeline.recovery.policy` to interrupted jobs: those found when this window becomes the
 * holder of the queue, and those interrupted while it holds it (a supervisor killed). Only the
 * holder decides, so two windows never both ask or both resume. `auto` resumes them, `prompt` asks
 * once per interruption and window, `off` leaves them in the Recovery view. A job interrupted twice
 * in a row is never resumed automatically: it is asked about instead.
 */
export class RecoveryController implements vscode.Disposable {
  /** `jobId:interruptions`: each interruption is handled once. */
  private readonly seen = new Set<string>();
  private readonly subscriptions: vscode.Disposable[];
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly queue: QueueHost,
    private readonly logger: Logger,
  ) {
    this.subscriptions = [
      queue.onDidChangeRole((role) => {
        if (role === 'holder') this.schedule();
      }),
      queue.onDidChange(() => {
        if (queue.role === 'holder' && queue.jobs.some((job) => job.state === 'interrupted' && !this.seen.has(key(job)))) this.schedule();
      }),
    ];
    if (queue.role === 'holder') this.schedule();
  }

  /** One pass at a time: a pass that waits on the user must not be overtaken by the next change. */
  private schedule(): void {
    this.running = this.running.then(() => this.recover()).catch((error: unknown) => this.logger.error(`[recovery] ${String(error)}`));
  }

  /** Runs the policy over the interruptions not handled yet in this window. */
  async recover(): Promise<void> {
    if (this.queue.role !== 'holder') return;
    const policy = readSettings().recoveryPolicy;
    const fresh = this.queue.jobs.filter((job) => job.state === 'interrupted' && !this.seen.has(key(job)));
    for (const job of fresh) this.seen.add(key(job));
    if (fresh.length === 0 || policy === 'off') return;
    this.logger.info(`[recovery] ${fresh.length} interrupted job(s), policy ${policy}: ${fresh.map((job) => `"${job.name}" (${describeRecovery(job) || 'from the start'})`).join('; ')}`);
    const tooOften = fresh.filter((job) => job.interruptions >= MAX_AUTO_RESUMED_INTERRUPTIONS);
    if (policy === 'auto') {
      const resumable = fresh.filter((job) => job.interruptions < MAX_AUTO_RESUMED_INTERRUPTIONS);
      for (const job of resumable) {
        await this.queue.execute({ type: 'resume', jobId: job.id }).then(
          () => this.logger.info(`[recovery] resumed "${job.name}" automatically`),
          (error: unknown) => this.logger.warn(`[recovery] could not resume "${job.name}": ${String(error)}`),
        );
      }
      if (tooOften.length > 0) void this.ask(tooOften, ' was interrupted twice in a row, so it was not resumed automatically');
      return;
    }
    // Not awaited: a notification left unanswered must not hold back the next interruption.
    void this.ask(fresh, ' was interrupted');
  }

  private async ask(jobs: readonly Job[], suffix: string): Promise<void> {
    const first = jobs[0];
    if (!first) return;
    const info = describeRecovery(first);
    const text =
      jobs.length === 1
        ? `Lifeline: "${first.name}"${suffix}${info ? ` (${info})` : ''}.`
        : `Lifeline: ${jobs.length} jobs${suffix.replace(' was', ' were')}: ${jobs.map((job) => `"${job.name}"`).join(', ')}.`;
    const choice = await vscode.window.showWarningMessage(text, jobs.length === 1 ? 'Resume' : 'Resume All', 'Show Recovery');
    if (choice === 'Show Recovery') await vscode.commands.executeCommand('lifeline.recovery.focus');
    if (choice === 'Resume' || choice === 'Resume All') {
      for (const job of jobs) {
        // Resumed meanwhile (another command, the Recovery view): nothing to do.
        if (this.queue.getJob(job.id)?.state !== 'interrupted') continue;
        await this.queue.execute({ type: 'resume', jobId: job.id }).catch((error: unknown) => void vscode.window.showErrorMessage(`Lifeline: could not resume "${job.name}": ${(error as Error).message}`));
      }
    }
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

function key(job: Job): string {
  return `${job.id}:${job.interruptions}`;
}
