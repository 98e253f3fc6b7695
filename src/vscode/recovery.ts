import * as vscode from 'vscode';
import type { Job } from '../core/queue/jobModel';
import { describeRecovery } from '../core/queue/jobSummary';
import type { RecoveryQuestion } from '../core/runtime/recoveryPolicy';
import type { RuntimeReport } from '../core/runtime/runtimeReports';
import type { QueueHost } from './queueHost';

const SUFFIXES: Record<RecoveryQuestion, string> = {
  interrupted: ' was interrupted',
  interruptedTwice: ' was interrupted twice in a row, so it was not resumed automatically',
};

/**
 * The prompt side of `lifeline.recovery.policy`. The workspace runtime decides (core
 * recoveryPolicy.ts: `auto` resumes, `prompt` asks once per interruption, `off` leaves jobs in the
 * Recovery view, and a job interrupted twice in a row is asked about instead of resumed); this
 * asks the user about the jobs it reports, and resumes the ones the user picks.
 */
export class RecoveryController {
  /** The queue is set once the runtime is open; a question asked before is answered after. */
  queue: QueueHost | undefined;

  /** Give it every runtime report; it acts on `recoveryNeeded`. */
  handle(report: RuntimeReport): void {
    // Not awaited: a notification left unanswered must not hold back the next interruption.
    if (report.type === 'recoveryNeeded') void this.ask(report.jobs, SUFFIXES[report.question]);
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
    const queue = this.queue;
    if ((choice === 'Resume' || choice === 'Resume All') && queue) {
      for (const job of jobs) {
        // Resumed meanwhile (another command, the Recovery view): nothing to do.
        if (queue.getJob(job.id)?.state !== 'interrupted') continue;
        await queue
          .execute({ type: 'resume', jobId: job.id })
          .catch(
            (error: unknown) =>
              void vscode.window.showErrorMessage(`Lifeline: could not resume "${job.name}": ${(error as Error).message}`),
          );
      }
    }
  }
}
