import { z } from 'zod';
import type { JobView } from '../core/control/jobView';
import { jobViewSchema, statusSchema } from '../core/control/jobView';
import { displayStates } from '../shared/jobDisplay';
import type { JobDefinition } from '../shared/workspaceConfig';
import { describeJob, jobResultSchema, jobWithOutput, toolResult } from './mcpResults';
import type { LifelineTool } from './mcpTool';
import { defineTool, jobIdSchema } from './mcpTool';

/** Reading tools change nothing and reach nothing outside the workspace's queue. */
const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** How long wait_for_jobs may block: past it the model asks again (and a client's request timeout is not hit blindly). */
export const MAX_WAIT_SECONDS = 600;
const DEFAULT_WAIT_SECONDS = 30;
/** How often a waiting call tells the client it is alive (when the client asked for progress). */
const WAIT_HEARTBEAT_MS = 10_000;
export const MAX_OUTPUT_LINES = 500;
const DEFAULT_OUTPUT_LINES = 40;

const definitionSummarySchema = z.object({
  name: z.string(),
  kind: z.enum(['command', 'pipeline']),
  command: z.string().optional(),
  stages: z.array(z.object({ name: z.string(), command: z.string() })).optional(),
  cwd: z.string().optional(),
  priority: z.number().optional(),
  tags: z.array(z.string()).optional(),
  timeoutSeconds: z.number().optional(),
});

/** What a model needs to choose a definition; its environment variables are left out (they may hold secrets). */
function summarize(definition: JobDefinition): z.infer<typeof definitionSummarySchema> {
  return {
    name: definition.name,
    kind: 'stages' in definition ? 'pipeline' : 'command',
    ...('command' in definition ? { command: definition.command } : {}),
    ...('stages' in definition ? { stages: definition.stages.map((stage) => ({ name: stage.name, command: stage.command })) } : {}),
    ...(definition.cwd !== undefined ? { cwd: definition.cwd } : {}),
    ...(definition.priority !== undefined ? { priority: definition.priority } : {}),
    ...(definition.tags !== undefined ? { tags: definition.tags } : {}),
    ...(definition.timeoutSeconds !== undefined ? { timeoutSeconds: definition.timeoutSeconds } : {}),
  };
}

const listDefinitions = defineTool({
  name: 'list_job_definitions',
  title: 'List job definitions',
  description:
    "Lists the jobs this workspace defines in .vscode/lifeline.json (name, command or stages, working folder, tags). Run one with run_job {definition: name}. If the file has a problem, 'problem' says what and where.",
  input: z.object({}).strict(),
  output: z.object({ definitions: z.array(definitionSummarySchema), problem: z.string().optional() }),
  annotations: { title: 'List job definitions', ...READ_ONLY },
  async run(_args, { control }) {
    const read = await control.definitions();
    const definitions = read.definitions.map(summarize);
    const lines = definitions.map(
      (d) => `- ${d.name} (${d.kind === 'pipeline' ? `stages: ${d.stages?.map((s) => s.name).join(' → ')}` : d.command})`,
    );
    const text = [
      definitions.length > 0 ? `${definitions.length} job definition(s):` : 'No job definitions in .vscode/lifeline.json.',
      ...lines,
      ...(read.problem ? [`Problem: ${read.problem}`] : []),
    ].join('\n');
    return toolResult(text, { definitions, ...(read.problem ? { problem: read.problem } : {}) });
  },
});

const getJob = defineTool({
  name: 'get_job',
  title: 'Get a job',
  description:
    'Gets one job by id: its state (queued, delayed, running, succeeded, failed, timedOut, cancelled, interrupted), current stage, progress, exit code or signal, duration, estimated time left, and the last lines of its output. Use it to check on a job run earlier, also one started by an earlier conversation or another client: jobs outlive the agent that started them.',
  input: z
    .object({
      id: jobIdSchema,
      outputLines: z.number().int().min(0).max(MAX_OUTPUT_LINES).default(DEFAULT_OUTPUT_LINES),
    })
    .strict(),
  inputDescriptions: {
    id: 'The job id run_job returned.',
    outputLines: `How many of the last output lines to include (0 for none; at most ${MAX_OUTPUT_LINES}).`,
  },
  output: jobResultSchema,
  annotations: { title: 'Get a job', ...READ_ONLY },
  run: (args, { control }) => jobWithOutput(control, args.id, args.outputLines),
});

const waitResultSchema = z.object({ jobs: z.array(jobViewSchema), timedOut: z.boolean() });

const waitForJobs = defineTool({
  name: 'wait_for_jobs',
  title: 'Wait for jobs',
  description: `Waits until the given jobs have finished (succeeded, failed, timed out or been cancelled) or were interrupted, or until timeoutSeconds pass (default ${DEFAULT_WAIT_SECONDS}, at most ${MAX_WAIT_SECONDS}), and returns them. No ids: every job not finished now. 'timedOut' true means some are still going: call it again, or get_job later; the jobs keep running either way.`,
  input: z
    .object({
      ids: z.array(jobIdSchema).max(100).default([]),
      timeoutSeconds: z.number().min(0).max(MAX_WAIT_SECONDS).default(DEFAULT_WAIT_SECONDS),
    })
    .strict(),
  inputDescriptions: {
    ids: 'The job ids to wait for; empty or left out: every job that has not finished.',
    timeoutSeconds: `How long to wait at most, in seconds (at most ${MAX_WAIT_SECONDS}).`,
  },
  output: waitResultSchema,
  annotations: { title: 'Wait for jobs', ...READ_ONLY },
  async run(args, { control, signal, progress }) {
    const started = Date.now();
    const heartbeat = setInterval(() => {
      const waited = Math.round((Date.now() - started) / 1000);
      progress(waited, args.timeoutSeconds, `waited ${waited} s`).catch(() => undefined);
    }, WAIT_HEARTBEAT_MS);
    try {
      const result = await control.wait(args.ids, { timeoutMs: args.timeoutSeconds * 1000, signal });
      const open = result.jobs.filter((job) => !job.finished && job.state !== 'interrupted').length;
      const head = result.timedOut
        ? `Timed out after ${args.timeoutSeconds} s: ${open} of ${result.jobs.length} job(s) not finished yet (they keep running).`
        : result.jobs.length === 0
          ? 'No job to wait for: none is queued or running.'
          : `All ${result.jobs.length} job(s) are done.`;
      return toolResult([head, ...result.jobs.map(describeJob)].join('\n'), { jobs: result.jobs, timedOut: result.timedOut });
    } finally {
      clearInterval(heartbeat);
    }
  },
});

const LIST_FILTERS = [...displayStates, 'active', 'finished'] as const;

function matches(job: JobView, filter: (typeof LIST_FILTERS)[number] | undefined): boolean {
  if (filter === undefined) return true;
  if (filter === 'active') return !job.finished && job.state !== 'interrupted';
  if (filter === 'finished') return job.finished;
  return job.state === filter;
}

const listJobs = defineTool({
  name: 'list_jobs',
  title: 'List jobs',
  description:
    "Lists the workspace's jobs: running and waiting ones first in queue order, then finished ones, newest first; with whether the queue is paused and how many jobs run at once. Filter by state ('active' = queued, delayed or running; 'finished' = succeeded, failed, timed out or cancelled).",
  input: z
    .object({
      state: z.enum(LIST_FILTERS).optional(),
      limit: z.number().int().min(1).max(200).default(50),
    })
    .strict(),
  inputDescriptions: {
    state: 'Only jobs in this state.',
    limit: 'At most this many jobs (1–200, default 50); `total` says how many matched.',
  },
  output: statusSchema.extend({ total: z.number().int().nonnegative() }),
  annotations: { title: 'List jobs', ...READ_ONLY },
  async run(args, { control }) {
    const status = control.status();
    const matching = status.jobs.filter((job) => matches(job, args.state));
    const jobs = matching.slice(0, args.limit);
    const head = `${matching.length} job(s)${args.state ? ` ${args.state}` : ''}${jobs.length < matching.length ? `, the first ${jobs.length} shown` : ''}; queue ${status.paused ? 'paused' : 'running'}, ${status.concurrency} at once.`;
    return toolResult([head, ...jobs.map(describeJob)].join('\n'), { ...status, jobs, total: matching.length });
  },
});

export const readTools: readonly LifelineTool[] = [listDefinitions, listJobs, getJob, waitForJobs];
