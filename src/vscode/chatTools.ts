import * as vscode from 'vscode';
import { z } from 'zod';
import { ControlError } from '../core/control/controlErrors';
import type { JobControl } from '../core/control/jobControl';
import { JOB_VIEW_SCHEMA_VERSION } from '../core/control/jobView';
import type { JobView } from '../core/control/jobView';
import { describeIssues } from '../core/queue/jobDefinitions';
import type { Logger } from '../core/logger';
import { abortSignalOf, ChatControls } from './chatToolControl';
import type { ToolConfirmation } from './chatToolMessages';
import { cancelConfirmation, jobSummary, resultText, retryConfirmation, runConfirmation } from './chatToolMessages';
import type { WorkspaceSession } from './workspaceSession';

/** The tools' names, as package.json's `contributes.languageModelTools` declares them. */
export const CHAT_TOOLS = {
  listDefinitions: 'lifeline_listDefinitions',
  listJobs: 'lifeline_listJobs',
  runJob: 'lifeline_runJob',
  getJob: 'lifeline_getJob',
  waitForJobs: 'lifeline_waitForJobs',
  cancelJob: 'lifeline_cancelJob',
  retryJob: 'lifeline_retryJob',
} as const;

/** How long one wait may block a chat turn; the model calls again for longer (the job keeps running meanwhile). */
export const WAIT_MAX_SECONDS = 300;
const WAIT_DEFAULT_SECONDS = 60;
const TAIL_DEFAULT_LINES = 40;
const TAIL_MAX_LINES = 500;

const tailLines = z.number().int().min(0).max(TAIL_MAX_LINES).optional();
const jobId = z.string().trim().min(1).max(200);
const jobInputSchema = z.object({ id: jobId, tailLines }).strict();
/** What a confirmation needs of the input; the rest is checked when the tool runs. */
const jobIdOnlySchema = z.object({ id: jobId });
const waitInputSchema = z
  .object({
    ids: z.array(z.string().trim().min(1).max(200)).max(100).optional(),
    timeoutSeconds: z.number().positive().max(WAIT_MAX_SECONDS).optional(),
    tailLines,
  })
  .strict();
const listJobsInputSchema = z.object({ includeFinished: z.boolean().optional() }).strict();

/** Validates a tool's input like every other request: a refusal names each wrong field. */
function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) throw new ControlError('invalidRequest', `Invalid input: ${describeIssues(parsed.error)}.`);
  return parsed.data;
}

export interface ChatToolsOptions {
  readonly session: () => WorkspaceSession | undefined;
  /** Why the queue is not open in this window (Restricted Mode, no folder, locked…), or undefined. */
  readonly unavailableReason: () => string | undefined;
  readonly workspaceKey: string | undefined;
  readonly logger: Logger;
}

type Open = { control: JobControl; folder: string };

function textResult(text: string): vscode.LanguageModelToolResult {
  return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
}

function confirmation(confirm: ToolConfirmation, invocationMessage: string): vscode.PreparedToolInvocation {
  return { invocationMessage, confirmationMessages: { title: confirm.title, message: new vscode.MarkdownString(confirm.message) } };
}

/** The language-model tools of chat (docs/chat-tools.md), on the window's own queue through JobControl. */
export function registerChatTools(options: ChatToolsOptions): vscode.Disposable[] {
  const controls = new ChatControls(options.session, options.workspaceKey);

  /**
   * Runs `action` on the open queue. A closed queue is an answer, not an error: the model reads why
   * and can tell the person. A refusal (ControlError) is thrown with its message, as the tool API
   * expects, so the model sees what to change.
   */
  const withQueue = async (tool: string, action: (open: Open) => Promise<string>): Promise<vscode.LanguageModelToolResult> => {
    const open = controls.control();
    if (!open) {
      const why = options.unavailableReason() ?? 'the queue is still opening in this window; try again in a moment.';
      return textResult(`Lifeline's queue is not open in this window: ${why}`);
    }
    try {
      return textResult(await action(open));
    } catch (error) {
      if (!(error instanceof ControlError) && !(error instanceof vscode.CancellationError)) {
        options.logger.error(`[chatTools] ${tool} failed: ${String(error)}`);
      }
      throw error;
    }
  };

  const tail = async (control: JobControl, job: JobView, lines: number | undefined): Promise<string> =>
    control.tail(job.id, lines ?? TAIL_DEFAULT_LINES);

  /** A prepare step that needs the job (its name and commands) shows nothing special while the queue is closed. */
  const jobFor = (input: unknown): { job: JobView; folder: string } | undefined => {
    const open = controls.control();
    if (!open) return undefined;
    return { job: open.control.get(parse(jobIdOnlySchema, input).id), folder: open.folder };
  };

  const tools: [string, vscode.LanguageModelTool<object>][] = [
    [
      CHAT_TOOLS.listDefinitions,
      {
        invoke: () =>
          withQueue(CHAT_TOOLS.listDefinitions, async ({ control }) => {
            const read = await control.definitions();
            const names = read.definitions.map((definition) => definition.name);
            const summary = read.problem
              ? `.vscode/lifeline.json cannot be used: ${read.problem}`
              : names.length > 0
                ? `${names.length} job definition${names.length > 1 ? 's' : ''} in .vscode/lifeline.json: ${names.join(', ')}.`
                : '.vscode/lifeline.json defines no jobs (a shell command can still be run).';
            return resultText(summary, { schemaVersion: JOB_VIEW_SCHEMA_VERSION, definitions: read.definitions, problem: read.problem });
          }),
      },
    ],
    [
      CHAT_TOOLS.listJobs,
      {
        invoke: (invocation) =>
          withQueue(CHAT_TOOLS.listJobs, async ({ control }) => {
            const input = parse(listJobsInputSchema, invocation.input);
            const status = control.status();
            const jobs = input.includeFinished === false ? status.jobs.filter((job) => !job.finished) : status.jobs;
            const open = status.jobs.filter((job) => !job.finished).length;
            const summary = `${status.jobs.length} job${status.jobs.length === 1 ? '' : 's'} in the queue, ${open} not finished${status.paused ? '; the queue is paused' : ''}.`;
            return resultText(summary, { ...status, jobs });
          }),
      },
    ],
    [
      CHAT_TOOLS.runJob,
      {
        prepareInvocation: async (invocation) => {
          const open = controls.control();
          if (!open) return { invocationMessage: 'Queueing a job in Lifeline' };
          const confirm = runConfirmation(invocation.input, open.folder, await open.control.definitions());
          return confirmation(confirm, 'Queueing the job in Lifeline');
        },
        invoke: (invocation) =>
          withQueue(CHAT_TOOLS.runJob, async ({ control }) => {
            const job = await control.add(invocation.input);
            return resultText(`Queued. ${jobSummary(job)} Use ${CHAT_TOOLS.waitForJobs} or ${CHAT_TOOLS.getJob} with its id.`, {
              schemaVersion: JOB_VIEW_SCHEMA_VERSION,
              job,
            });
          }),
      },
    ],
    [
      CHAT_TOOLS.getJob,
      {
        invoke: (invocation) =>
          withQueue(CHAT_TOOLS.getJob, async ({ control }) => {
            const input = parse(jobInputSchema, invocation.input);
            const job = control.get(input.id);
            const outputTail = await tail(control, job, input.tailLines);
            return resultText(jobSummary(job), { schemaVersion: JOB_VIEW_SCHEMA_VERSION, job, outputTail });
          }),
      },
    ],
    [
      CHAT_TOOLS.waitForJobs,
      {
        invoke: (invocation, token) =>
          withQueue(CHAT_TOOLS.waitForJobs, async ({ control }) => {
            const input = parse(waitInputSchema, invocation.input);
            const cancellation = abortSignalOf(token);
            let result;
            try {
              result = await control.wait(input.ids ?? [], {
                timeoutMs: (input.timeoutSeconds ?? WAIT_DEFAULT_SECONDS) * 1000,
                signal: cancellation.signal,
              });
            } finally {
              cancellation.dispose();
            }
            const jobs = await Promise.all(
              result.jobs.map(async (job) => ({ job, outputTail: await tail(control, job, input.tailLines) })),
            );
            const lines = result.jobs.map((job) => jobSummary(job));
            const head = result.timedOut
              ? `The wait ended before every job finished (they keep running; wait again).`
              : result.jobs.length === 0
                ? 'No job was waiting to finish.'
                : 'Every job is done.';
            return resultText([head, ...lines].join('\n'), { schemaVersion: JOB_VIEW_SCHEMA_VERSION, timedOut: result.timedOut, jobs });
          }),
      },
    ],
    [
      CHAT_TOOLS.cancelJob,
      {
        prepareInvocation: (invocation) => {
          const found = jobFor(invocation.input);
          return found ? confirmation(cancelConfirmation(found.job, found.folder), 'Cancelling the job') : undefined;
        },
        invoke: (invocation) =>
          withQueue(CHAT_TOOLS.cancelJob, async ({ control }) => {
            const job = await control.cancel(parse(jobInputSchema, invocation.input).id);
            return resultText(jobSummary(job), { schemaVersion: JOB_VIEW_SCHEMA_VERSION, job });
          }),
      },
    ],
    [
      CHAT_TOOLS.retryJob,
      {
        prepareInvocation: (invocation) => {
          const found = jobFor(invocation.input);
          return found ? confirmation(retryConfirmation(found.job, found.folder), 'Queueing the job again') : undefined;
        },
        invoke: (invocation) =>
          withQueue(CHAT_TOOLS.retryJob, async ({ control }) => {
            const id = parse(jobInputSchema, invocation.input).id;
            // An interrupted job continues where it stopped; a finished one starts again.
            const job = control.get(id).state === 'interrupted' ? await control.resume(id) : await control.retry(id);
            return resultText(jobSummary(job), { schemaVersion: JOB_VIEW_SCHEMA_VERSION, job });
          }),
      },
    ],
  ];
  return tools.map(([name, tool]) => vscode.lm.registerTool(name, tool));
}
