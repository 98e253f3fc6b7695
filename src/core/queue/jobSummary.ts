import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { formatDuration } from '../../shared/jobDisplay';
import type { Job, JobState } from './jobModel';

/**
 * The states in which each action on a job applies: one table for the command pickers, the
 * dashboard's buttons and (mirrored by hand in package.json's `viewItem` clauses) the tree's menus.
 */
export const ACTION_STATES = {
  cancel: ['queued', 'delayed', 'running'],
  resume: ['interrupted', 'failed'],
  retry: ['failed', 'cancelled', 'succeeded', 'interrupted'],
  discard: ['interrupted'],
} as const satisfies Record<string, readonly JobState[]>;

export type StateAction = keyof typeof ACTION_STATES;

export function actionApplies(action: StateAction, job: Job): boolean {
  return (ACTION_STATES[action] as readonly JobState[]).includes(job.state);
}

/**
 * How a job reads in the Queue and Recovery views: one short line, free of VS Code types so that
 * the tree, the dashboard and the notifications say the same thing, and tests can check it.
 */
export function describeJobState(job: Job): string {
  switch (job.state) {
    case 'running': {
      const parts = ['running'];
      if (job.kind === 'pipeline' && job.currentStage !== undefined) {
        parts.push(`stage ${job.currentStage + 1}/${job.stages.length} ${job.stages[job.currentStage]?.name ?? ''}`.trim());
      }
      if (job.progress?.fraction !== undefined) parts.push(`${Math.round(job.progress.fraction * 100)}%`);
      if (job.progress?.message) parts.push(job.progress.message);
      if (job.stopReason === 'cancel') parts.push('cancelling');
      if (job.estimatedDurationMs !== undefined) parts.push(`usually ${formatDuration(job.estimatedDurationMs)}`);
      return parts.join(' · ');
    }
    case 'delayed':
      return job.notBefore !== undefined ? `delayed until ${new Date(job.notBefore).toLocaleTimeString()}` : 'delayed';
    case 'queued': {
      const queued = job.attempts > 0 ? `queued (attempt ${job.attempts + 1})` : 'queued';
      return job.estimatedDurationMs !== undefined ? `${queued} · usually ${formatDuration(job.estimatedDurationMs)}` : queued;
    }
    case 'succeeded':
      return `succeeded${job.actualDurationMs !== undefined ? ` in ${formatDuration(job.actualDurationMs)}` : ''}`;
    case 'failed':
      return job.result?.timedOut ? timeoutText(job) : `failed${exitText(job)}`;
    case 'cancelled':
      return job.abandoned ? 'discarded' : 'cancelled';
    case 'interrupted':
      return `interrupted${job.interruptions > 1 ? ` ${job.interruptions}× in a row` : ''}`;
  }
}

function exitText(job: Job): string {
  const result = job.result;
  if (!result) return '';
  if (result.signal) return ` (${result.signal})`;
  if (result.exitCode !== null) return ` (exit ${result.exitCode})`;
  return result.error ? ` (${result.error})` : '';
}

/**
 * A job that ended by a timeout says which limit stopped it. The stored result only says that a
 * timeout did (the scheduler's message names it, but messages are for people, not for parsing):
 * the job's own limit when the attempt ran that long, else the limit of the stage it was in.
 */
function timeoutText(job: Job): string {
  const index = job.currentStage;
  const stage = index === undefined ? undefined : job.stages[index];
  const jobLimitHit = job.timeoutMs !== undefined && (stage?.timeoutMs === undefined || (job.actualDurationMs ?? 0) >= job.timeoutMs);
  if (jobLimitHit && job.timeoutMs !== undefined) return `timed out after ${formatDuration(job.timeoutMs)}`;
  if (stage?.timeoutMs === undefined || index === undefined) return 'timed out';
  const where = job.kind === 'pipeline' ? ` in stage ${index + 1}/${job.stages.length} ${stage.name}` : '';
  return `timed out after ${formatDuration(stage.timeoutMs)}${where}`;
}

/** What a user needs to decide about an interrupted job: where it stopped and what a resume will redo. */
export interface RecoveryInfo {
  /** The stage a resume starts at, with its 1-based number. */
  readonly resumeStage: { readonly index: number; readonly name: string } | undefined;
  readonly checkpoint: string | undefined;
  /** Declared outputs of finished stages, checked on disk now. */
  readonly outputsPresent: readonly string[];
  readonly outputsMissing: readonly string[];
  /** How long the interrupted attempt had run: at most this much work is redone. */
  readonly ranForMs: number | undefined;
  readonly interruptions: number;
}

export function recoveryInfo(job: Job): RecoveryInfo {
  const present: string[] = [];
  const missing: string[] = [];
  for (const stage of job.stages) {
    if (!job.completedStages.includes(stage.name)) continue;
    for (const output of stage.outputs) (existsSync(resolve(stage.cwd, output)) ? present : missing).push(output);
  }
  // The same rule as the scheduler's resume: the first stage not finished or missing an output.
  const index = job.stages.findIndex(
    (stage) => !job.completedStages.includes(stage.name) || stage.outputs.some((output) => !existsSync(resolve(stage.cwd, output))),
  );
  const stage = index >= 0 ? job.stages[index] : undefined;
  return {
    resumeStage: stage ? { index, name: stage.name } : undefined,
    checkpoint: job.checkpoint,
    outputsPresent: present,
    outputsMissing: missing,
    ranForMs: job.startedAt !== undefined && job.finishedAt !== undefined ? Math.max(0, job.finishedAt - job.startedAt) : undefined,
    interruptions: job.interruptions,
  };
}

/** One line for a notification or a tooltip. */
export function describeRecovery(job: Job, info: RecoveryInfo = recoveryInfo(job)): string {
  const parts: string[] = [];
  if (info.resumeStage && job.kind === 'pipeline') {
    parts.push(`resumes at stage ${info.resumeStage.index + 1}/${job.stages.length} "${info.resumeStage.name}"`);
  }
  if (info.checkpoint !== undefined) parts.push(`from checkpoint ${truncate(info.checkpoint, 60)}`);
  if (info.outputsMissing.length > 0) parts.push(`missing output ${info.outputsMissing.join(', ')}`);
  if (info.ranForMs !== undefined) parts.push(`had run ${formatDuration(info.ranForMs)}`);
  return parts.join(', ');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
