import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ControlError } from '../core/control/controlErrors';
import type { JobControl } from '../core/control/jobControl';
import type { JobView } from '../core/control/jobView';
import { jobViewSchema } from '../core/control/jobView';
import { LifelineError } from '../core/errors';
import { describeIssues } from '../core/queue/jobDefinitions';
import { displayStateLabels, formatDuration } from '../shared/jobDisplay';

/** What every tool that answers with one job returns as structured content (docs/mcp.md). */
export const jobResultSchema = z.object({
  job: jobViewSchema,
  /** The last lines of the output of the job's latest attempt, when asked for. */
  output: z.string().optional(),
});
export type JobResult = z.infer<typeof jobResultSchema>;

/** The states an agent is done waiting for: the job will not change by itself. */
const FAILED_STATES: ReadonlySet<string> = new Set(['failed', 'timedOut', 'cancelled', 'interrupted']);

/** A tool's answer: a short text for the model and the same facts as structured content. */
export function toolResult(text: string, structured: Record<string, unknown>, isError = false): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured, ...(isError ? { isError: true } : {}) };
}

/** A refusal or a failure the model can read and act on; never thrown at the protocol. */
export function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/**
 * The message of an error, as a person (or a model) should read it: Lifeline's typed errors are
 * written for the reader; anything else is unexpected and says so.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof z.ZodError) return `Invalid arguments: ${describeIssues(error)}.`;
  if (error instanceof LifelineError) return error.message;
  return `Lifeline failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`;
}

/** `ControlError` reasons (unknownJob, invalidRequest, untrusted, needsApproval…), or undefined. */
export function controlReason(error: unknown): string | undefined {
  return error instanceof ControlError ? error.reason : undefined;
}

/** One line on a job: id, name, state, stage, progress, exit, time left. */
export function describeJob(view: JobView): string {
  const parts = [`Job ${view.id} "${view.name}": ${displayStateLabels[view.state].toLowerCase()}`];
  if (view.stage && !view.finished) parts.push(`stage ${view.stage.number}/${view.stage.of} "${view.stage.name}"`);
  if (view.progress?.fraction !== undefined) parts.push(`${Math.round(view.progress.fraction * 100)}%`);
  if (view.progress?.message) parts.push(view.progress.message);
  if (typeof view.exitCode === 'number') parts.push(`exit code ${view.exitCode}`);
  if (view.signal) parts.push(`signal ${view.signal}`);
  if (view.error && view.state !== 'cancelled') parts.push(view.error);
  if (view.durationMs !== undefined) parts.push(`ran ${formatDuration(view.durationMs)}`);
  if (view.estimatedRemainingMs !== undefined) parts.push(`about ${formatDuration(view.estimatedRemainingMs)} left`);
  if (view.startsAt) parts.push(`starts at ${view.startsAt}`);
  if (view.state === 'interrupted') parts.push('its supervisor went away; resume it with retry_job (mode "resume")');
  return parts.join(', ');
}

/** Whether a job's result is a failure of the work (the tool result is then marked isError). */
export function isFailure(view: JobView): boolean {
  return FAILED_STATES.has(view.state);
}

/**
 * The job with the tail of its output: what get_job returns, and a task's result (tasks/result).
 * `failureIsError`: a job that failed, timed out, was cancelled or interrupted makes an error
 * result, as a task's result must be (the work failed); get_job itself succeeded in telling.
 */
export async function jobWithOutput(control: JobControl, id: string, lines: number, failureIsError = false): Promise<CallToolResult> {
  const job = control.get(id);
  const output = lines > 0 ? await control.tail(id, lines) : undefined;
  const result: JobResult = { job, ...(output !== undefined ? { output } : {}) };
  const text =
    output !== undefined ? `${describeJob(job)}\n--- last ${lines} lines of output ---\n${output || '(no output yet)'}` : describeJob(job);
  return toolResult(text, result, failureIsError && isFailure(job));
}
