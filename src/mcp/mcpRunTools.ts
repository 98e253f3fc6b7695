import { z } from 'zod';
import { addRequestSchema } from '../core/control/addRequest';
import type { JobControl } from '../core/control/jobControl';
import type { JobView } from '../core/control/jobView';
import type { Job } from '../core/queue/jobModel';
import { describeJob, jobResultSchema, toolResult } from './mcpResults';
import type { LifelineTool } from './mcpTool';
import { defineTool, jobIdSchema } from './mcpTool';

/** How long run_job waits for a started job's supervisor to take it (its start on record). */
const HANDOFF_WAIT_MS = 10_000;

/**
 * The job once it is safe from this process: queued (on disk, any holder starts it) or running with
 * its start on record (its supervisor has it). A job the queue has just marked running but whose
 * supervisor has not said so yet dies with this process if the agent kills it now: the next holder
 * finds no journal and settles it interrupted. So an answer of run_job means the job outlives the agent.
 */
async function handedOff(control: JobControl, id: string, signal: AbortSignal): Promise<JobView> {
  const safe = (job: Job | undefined): boolean => job !== undefined && (job.state !== 'running' || job.pid !== undefined);
  const job = await control.until(id, safe, AbortSignal.any([signal, AbortSignal.timeout(HANDOFF_WAIT_MS)])).catch(() => undefined);
  return job ? control.view(job) : control.get(id);
}

const runJob = defineTool({
  name: 'run_job',
  title: 'Run a job',
  description: [
    "Queues a job in the workspace's durable queue and returns at once with its id and state; it then runs in its own supervisor process, so it keeps running when this conversation, the agent or the editor goes away, and its result stays available by id (get_job, wait_for_jobs).",
    'Give exactly one of: definition (a job of .vscode/lifeline.json, see list_job_definitions), command (one shell command line, run by the shell in the workspace folder or cwd), or stages (a pipeline of named shell commands run in order; resume continues from the first unfinished stage).',
    'Optional: label (the name shown in the queue; never run), priority (-100..100, higher first), delaySeconds (start later), tags, cwd (relative to the workspace folder).',
    'Refused in a workspace VS Code does not trust. Clients that support MCP tasks may call it as a task: the task id is the job id, valid across reconnects.',
  ].join(' '),
  input: addRequestSchema,
  inputDescriptions: {
    definition: 'The name of a job defined in .vscode/lifeline.json.',
    command: 'A shell command line, run as it is by the shell (sh -c on Linux and macOS).',
    stages: 'Named shell commands run one after the other; each {name, command, cwd?}.',
    label: 'The name shown in the queue and history. Only a name: it is never run.',
    priority: 'Higher runs first among waiting jobs (-100..100, default 0 or the definition’s).',
    delaySeconds: 'Start no earlier than this many seconds from now.',
    tags: 'Short words to find the job by later.',
    cwd: 'Working folder, relative to the workspace folder (or absolute).',
  },
  output: jobResultSchema,
  annotations: { title: 'Run a job', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  taskSupport: 'optional',
  async run(args, { control, signal }) {
    const job = await handedOff(control, (await control.add(args)).id, signal);
    return toolResult(`${describeJob(job)}\nWait for it with wait_for_jobs {ids: ["${job.id}"]}, or check on it with get_job.`, { job });
  },
});

const cancelJob = defineTool({
  name: 'cancel_job',
  title: 'Cancel a job',
  description:
    'Cancels a job: a waiting one never starts; a running one gets SIGTERM, then SIGKILL after its grace period (the job shows as cancelled once its processes are gone). Refused for a job that has already finished.',
  input: z.object({ id: jobIdSchema }).strict(),
  inputDescriptions: { id: 'The id of the job to cancel.' },
  output: jobResultSchema,
  annotations: { title: 'Cancel a job', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, { control }) {
    const job = await control.cancel(args.id);
    const note = job.finished ? '' : '\nIts processes are being stopped; wait_for_jobs tells when it is cancelled.';
    return toolResult(`${describeJob(job)}${note}`, { job });
  },
});

const retryJob = defineTool({
  name: 'retry_job',
  title: 'Run a job again',
  description:
    "Runs a finished or interrupted job again under the same id. mode 'retry' (default) starts it over from the beginning; mode 'resume' continues a pipeline from its first unfinished stage and hands the job its last checkpoint (for an interrupted job: the one whose supervisor went away). Refused in a workspace VS Code does not trust.",
  input: z.object({ id: jobIdSchema, mode: z.enum(['retry', 'resume']).default('retry') }).strict(),
  inputDescriptions: { id: 'The id of the job to run again.', mode: "'retry' from the start, or 'resume' from where it stopped." },
  output: jobResultSchema,
  annotations: { title: 'Run a job again', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async run(args, { control }) {
    const job = args.mode === 'resume' ? await control.resume(args.id) : await control.retry(args.id);
    return toolResult(describeJob(job), { job });
  },
});

export const runTools: readonly LifelineTool[] = [runJob, cancelJob, retryJob];
