import * as vscode from 'vscode';
import type { Job } from '../core/jobs/jobModel';
import { MAX_AUTO_RESUMED_INTERRUPTIONS } from '../core/jobs/jobModel';
import { describeRecovery } from '../core/jobs/jobSummary';
import type { Logger } from '../core/logger';
import type { QueueHost } from './queueHost';

export type RecoveryPolicy = 'prompt' | 'auto' | 'off';

/**
 * Applies `lifeline.recovery.policy` to the jobs found interrupted when this window becomes the
 * holder of the queue (only the holder decides, so two windows never both ask or both resume):
 * `auto` resumes them, `prompt` asks once per job and window, `off` leaves them in the Recovery
 * view. A job interrupted twice in a row is never resumed automatically: it is asked about instead.
 */
export class RecoveryController implements vscode.Disposable {
  private readonly seen = new Set<string>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly queue: QueueHost,
    private readonly logger: Logger,
  ) {
    this.subscription = queue.onDidChangeRole((role) => {
      if (role === 'holder') void this.recover();
    });
    if (queue.role === 'holder') void this.recover();
  }

  /** Runs the policy over the interrupted jobs not handled yet in this window. */
  async recover(): Promise<void> {
    const policy = vscode.workspace.getConfiguration('lifeline').get<RecoveryPolicy>('recovery.policy', 'prompt');
    const fresh = this.queue.jobs.filter((job) => job.state === 'interrupted' && !this.seen.has(job.id));
    for (const job of fresh) this.seen.add(job.id);
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
      if (tooOften.length > 0) await this.ask(tooOften, ' was interrupted twice in a row, so it was not resumed automatically.');
      return;
    }
    await this.ask(fresh, fresh.length === 1 ? ' was interrupted.' : '');
  }

  private async ask(jobs: readonly Job[], suffix: string): Promise<void> {
    const first = jobs[0];
    if (!first) return;
    const text = jobs.length === 1 ? `Lifeline: "${first.name}"${suffix} ${describeRecovery(first)}`.trim() : `Lifeline: ${jobs.length} jobs were interrupted (${jobs.map((job) => job.name).join(', ')}).${suffix ? ` Some${suffix.replace(' was', ' were')}` : ''}`;
    const choice = await vscode.window.showWarningMessage(text, jobs.length === 1 ? 'Resume' : 'Resume All', 'Show Recovery');
    if (choice === 'Show Recovery') await vscode.commands.executeCommand('lifeline.recovery.focus');
    if (choice === 'Resume' || choice === 'Resume All') {
      for (const job of jobs) {
        await this.queue.execute({ type: 'resume', jobId: job.id }).catch((error: unknown) => void vscode.window.showErrorMessage(`Lifeline: could not resume "${job.name}": ${(error as Error).message}`));
      }
    }
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
