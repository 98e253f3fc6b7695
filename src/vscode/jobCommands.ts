import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { JobError } from '../core/queue/jobErrors';
import type { Job, JobState, QueueCommand } from '../core/queue/jobModel';
import { ACTION_STATES, describeJobState, describeRecovery } from '../core/queue/jobSummary';
import type { Logger } from '../core/logger';
import type { JobDefinition } from '../shared/workspaceConfig';
import type { QueueHost } from './queueHost';
import type { QueueTreeNode } from './queueTreeProvider';
import type { WorkspaceJobs } from './workspaceJobs';
import { CommandIds } from '../shared/commandIds';
import { JOB_OUTPUT_SCHEME, jobOutputUri } from './jobOutputDocuments';

/** What the commands need from the extension: the queue once it is open, and the definitions. */
export interface JobCommandContext {
  queue(): QueueHost | undefined;
  workspaceJobs(): WorkspaceJobs | undefined;
  /** Why nothing can run now (no folder, Restricted Mode, storage failed), or undefined. */
  unavailableReason(): string | undefined;
  /** The queue once the opening in progress ends (undefined when it failed). */
  whenOpen(): Promise<QueueHost | undefined>;
  /** How long the job is likely to take, from earlier runs in the history (undefined without any). */
  estimateDuration(definition: JobDefinition): Promise<number | undefined>;
  readonly logger: Logger;
}

/** A job argument: a tree node (inline and context menus), a job id (API, tests), or nothing (palette: pick). */
type JobArgument = QueueTreeNode | string | undefined;

export function registerJobCommands(ctx: JobCommandContext): vscode.Disposable[] {
  const jobCommand = (id: string, states: readonly JobState[], verb: string, toCommand: (job: Job) => QueueCommand) =>
    vscode.commands.registerCommand(id, async (argument: JobArgument) => {
      const queue = await requireQueue(ctx);
      if (!queue) return undefined;
      const job = await resolveJob(queue, argument, states, verb);
      if (!job) return undefined;
      return run(ctx, queue, toCommand(job));
    });

  return [
    vscode.commands.registerCommand(CommandIds.runJob, async (argument?: string | JobDefinition) => {
      const queue = await requireQueue(ctx);
      if (!queue) return undefined;
      const chosen = await chooseDefinition(ctx, argument);
      if (!chosen) return undefined;
      // A definition of .vscode/lifeline.json (a file anyone can commit) runs outside the workspace only once allowed.
      if (chosen.fromFile && !(await allowFoldersOutside(ctx, chosen.definition))) return undefined;
      return enqueue(ctx, queue, chosen.definition);
    }),
    vscode.commands.registerCommand(CommandIds.runShellCommand, async (commandLine?: string) => {
      const queue = await requireQueue(ctx);
      if (!queue) return undefined;
      const command =
        commandLine ??
        (await vscode.window.showInputBox({
          title: 'Lifeline: Run Shell Command',
          prompt: 'Runs in the background in the workspace folder, and survives reloads and restarts.',
          placeHolder: 'npm run build',
          validateInput: (value) => (value.trim() ? undefined : 'Type a command to run.'),
        }));
      if (!command?.trim()) return undefined;
      return enqueue(ctx, queue, { name: command.trim().slice(0, 200), command: command.trim() });
    }),
    jobCommand(CommandIds.cancelJob, ACTION_STATES.cancel, 'cancel', (job) => ({ type: 'cancel', jobId: job.id })),
    jobCommand(CommandIds.retryJob, ACTION_STATES.retry, 'run again', (job) => ({ type: 'retry', jobId: job.id })),
    jobCommand(CommandIds.resumeJob, ACTION_STATES.resume, 'resume', (job) => ({ type: 'resume', jobId: job.id })),
    vscode.commands.registerCommand(CommandIds.discardJob, async (argument: JobArgument) => {
      const queue = await requireQueue(ctx);
      if (!queue) return undefined;
      const job = await resolveJob(queue, argument, ACTION_STATES.discard, 'discard');
      if (!job) return undefined;
      // Called with an id (API, tests) the caller has decided; from the UI, files are at stake.
      if (typeof argument !== 'string') {
        const outputs = job.stages.filter((stage) => !job.completedStages.includes(stage.name)).flatMap((stage) => stage.outputs);
        const choice = await vscode.window.showWarningMessage(
          `Discard the interrupted job "${job.name}"?`,
          {
            modal: true,
            detail:
              outputs.length > 0
                ? `The partial outputs of its unfinished stages are deleted: ${outputs.join(', ')}.`
                : 'It will not be resumed.',
          },
          'Discard',
        );
        if (choice !== 'Discard') return undefined;
      }
      return run(ctx, queue, { type: 'discard', jobId: job.id });
    }),
    vscode.commands.registerCommand(CommandIds.resumeAllInterrupted, async () => {
      const queue = await requireQueue(ctx);
      if (!queue) return undefined;
      const interrupted = queue.jobs.filter((job) => job.state === 'interrupted');
      if (interrupted.length === 0) {
        void vscode.window.showInformationMessage('Lifeline: no job is interrupted.');
        return 0;
      }
      const results = await Promise.allSettled(interrupted.map((job) => queue.execute({ type: 'resume', jobId: job.id })));
      const failed = results.filter((result) => result.status === 'rejected');
      if (failed.length > 0) {
        void vscode.window.showErrorMessage(
          `Lifeline: ${failed.length} of ${interrupted.length} jobs could not be resumed: ${messageOf(failed[0]?.reason)}`,
        );
      }
      return results.length - failed.length;
    }),
    vscode.commands.registerCommand(CommandIds.pauseQueue, () =>
      withQueue(ctx, (queue) => run(ctx, queue, { type: 'setPaused', paused: true })),
    ),
    vscode.commands.registerCommand(CommandIds.resumeQueue, () =>
      withQueue(ctx, (queue) => run(ctx, queue, { type: 'setPaused', paused: false })),
    ),
    vscode.commands.registerCommand(CommandIds.clearFinished, () => withQueue(ctx, (queue) => run(ctx, queue, { type: 'clearFinished' }))),
    vscode.commands.registerCommand(CommandIds.showJobOutput, async (argument: JobArgument) => {
      const queue = ctx.queue();
      if (!queue) return void vscode.window.showInformationMessage(`Lifeline: ${ctx.unavailableReason() ?? 'the queue is not open yet.'}`);
      const job = await resolveJob(
        queue,
        argument,
        ['running', 'succeeded', 'failed', 'cancelled', 'interrupted', 'queued'],
        'show the output of',
        'Lifeline: Show Job Output',
      );
      if (!job) return undefined;
      const path = queue.outputLogPath(job);
      if (!path || !existsSync(path)) return void vscode.window.showInformationMessage(`Lifeline: "${job.name}" has no output yet.`);
      const uri = await jobOutputUri(path);
      let document: vscode.TextDocument;
      try {
        document = await vscode.workspace.openTextDocument(uri);
      } catch (error) {
        // A sealed log that does not open (no key, another key, damaged) is locked or damaged, said
        // rather than thrown. VS Code passes on only the provider's text (after "Detail:"), not its type.
        if (uri.scheme !== JOB_OUTPUT_SCHEME) throw error;
        const detail = error instanceof Error ? error.message.replace(/^[\s\S]*Detail: /, '') : String(error);
        return void vscode.window.showWarningMessage(`Lifeline: the output of "${job.name}" is encrypted and cannot be shown: ${detail}`);
      }
      await vscode.window.showTextDocument(document, { preview: true });
      return path;
    }),
    vscode.commands.registerCommand(CommandIds.openJobDefinitions, async () => {
      const jobs = ctx.workspaceJobs();
      if (!jobs) return void vscode.window.showInformationMessage('Lifeline: open a folder to define its jobs.');
      const exists = await vscode.workspace.fs.stat(jobs.uri).then(
        () => true,
        () => false,
      );
      if (!exists) await vscode.workspace.fs.writeFile(jobs.uri, new TextEncoder().encode(TEMPLATE));
      await vscode.window.showTextDocument(jobs.uri);
    }),
  ];
}

const TEMPLATE = `{
  "version": 1,
  "jobs": [
    {
      "name": "Build",
      "command": "npm run build"
    }
  ]
}
`;

/**
 * The queue, or undefined after saying why there is none. A command given while the queue is
 * still opening (activation takes the lease and adopts running supervisors in the background, a
 * few seconds on a busy machine) waits for it, shown in the status bar, rather than refusing.
 */
async function requireQueue(ctx: JobCommandContext): Promise<QueueHost | undefined> {
  let reason = ctx.unavailableReason();
  let queue = ctx.queue();
  if (!reason && !queue) {
    queue = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Lifeline: opening the queue' }, () =>
      ctx.whenOpen(),
    );
    reason = ctx.unavailableReason();
  }
  if (reason || !queue) {
    const message = `Lifeline: ${reason ?? 'the queue could not be opened; see the log.'}`;
    if (reason && !vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage(message, 'Manage Workspace Trust').then((choice) => {
        if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
      });
    } else void vscode.window.showWarningMessage(message);
    return undefined;
  }
  return queue;
}

async function withQueue<T>(ctx: JobCommandContext, action: (queue: QueueHost) => Promise<T>): Promise<T | undefined> {
  const queue = await requireQueue(ctx);
  return queue ? action(queue) : undefined;
}

/** Runs a command; a refusal (invalid job, wrong state) is shown, not thrown into VS Code's generic error. */
async function run(ctx: JobCommandContext, queue: QueueHost, command: QueueCommand): Promise<string | number | undefined> {
  try {
    const result = await queue.execute(command);
    return result.jobId ?? result.count;
  } catch (error) {
    ctx.logger.warn(`[commands] ${command.type} refused: ${messageOf(error)}`);
    void vscode.window.showErrorMessage(`Lifeline: ${messageOf(error)}`);
    return undefined;
  }
}

async function enqueue(ctx: JobCommandContext, queue: QueueHost, definition: JobDefinition): Promise<string | number | undefined> {
  // An estimate is a nicety: a slow or failing history never holds a job back.
  const estimatedDurationMs = await ctx.estimateDuration(definition).catch(() => undefined);
  return run(ctx, queue, { type: 'enqueue', definition, ...(estimatedDurationMs !== undefined ? { estimatedDurationMs } : {}) });
}

function messageOf(error: unknown): string {
  return JobError.is(error) || error instanceof Error ? error.message : String(error);
}

/**
 * Asks, once per job and folder, before a job of the file runs outside the workspace folder.
 * True when it may run (nothing to ask, or allowed and remembered).
 */
async function allowFoldersOutside(ctx: JobCommandContext, definition: JobDefinition): Promise<boolean> {
  const workspaceJobs = ctx.workspaceJobs();
  const folders = (await workspaceJobs?.foldersToAllow(definition)) ?? [];
  if (!workspaceJobs || folders.length === 0) return true;
  const choice = await vscode.window.showWarningMessage(
    `Allow job "${definition.name}" to run in ${folders.join(', ')} outside the workspace?`,
    {
      modal: true,
      detail: `.vscode/lifeline.json sets its working folder there. A job works on the files of its folder (Discard deletes a stage's unfinished outputs). Lifeline remembers the answer for this workspace.`,
    },
    'Allow',
  );
  if (choice !== 'Allow') {
    ctx.logger.info(`[commands] "${definition.name}" not run: its folder outside the workspace was not allowed`);
    return false;
  }
  try {
    await workspaceJobs.allowFolders(definition, folders);
    return true;
  } catch (error) {
    ctx.logger.error(`[commands] could not remember the folders allowed for "${definition.name}": ${messageOf(error)}`);
    void vscode.window.showErrorMessage(`Lifeline: could not remember that "${definition.name}" may run there: ${messageOf(error)}`);
    return false;
  }
}

async function chooseDefinition(
  ctx: JobCommandContext,
  argument: string | JobDefinition | undefined,
): Promise<{ definition: JobDefinition; fromFile: boolean } | undefined> {
  const workspaceJobs = ctx.workspaceJobs();
  const definitions = (await workspaceJobs?.definitions()) ?? [];
  // Handed over whole (API, tests): the caller chose it, so it is not asked about.
  if (typeof argument === 'object') return { definition: argument, fromFile: false };
  if (typeof argument === 'string') {
    const found = definitions.find((definition) => definition.name === argument);
    if (!found) {
      const problem = workspaceJobs?.problem;
      void vscode.window.showErrorMessage(
        `Lifeline: no job named "${argument}" in .vscode/lifeline.json${problem ? `; ${problem.replace(/\.$/, '')}` : ''}.`,
      );
    }
    return found && { definition: found, fromFile: true };
  }
  type Pick = vscode.QuickPickItem & { definition?: JobDefinition; action?: 'shell' | 'open' };
  const items: Pick[] = definitions.map((definition) => ({
    label: `$(${'stages' in definition ? 'layers' : 'play'}) ${definition.name}`,
    description: `${workspaceJobs?.asksBeforeRunning(definition.name) ? '$(warning) outside the workspace · ' : ''}${'stages' in definition ? `${definition.stages.length} stages` : definition.command}`,
    detail: definition.tags?.length ? definition.tags.join(', ') : undefined,
    definition,
  }));
  if (items.length > 0) items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
  items.push(
    { label: '$(terminal) Run a shell command…', action: 'shell', alwaysShow: true },
    { label: '$(gear) Edit job definitions (.vscode/lifeline.json)', action: 'open', alwaysShow: true },
  );
  const problem = workspaceJobs?.problem;
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Lifeline: Run Job',
    placeHolder: problem
      ? `⚠ ${problem}`
      : definitions.length > 0
        ? 'Pick a job from .vscode/lifeline.json'
        : 'No jobs defined in .vscode/lifeline.json yet',
    matchOnDescription: true,
  });
  if (picked?.action === 'shell') await vscode.commands.executeCommand(CommandIds.runShellCommand);
  if (picked?.action === 'open') await vscode.commands.executeCommand(CommandIds.openJobDefinitions);
  return picked?.definition && { definition: picked.definition, fromFile: true };
}

/** `title` is the picker's, the command's own title ("Lifeline: Cancel Job" from the verb when not given). */
async function resolveJob(
  queue: QueueHost,
  argument: JobArgument,
  states: readonly JobState[],
  verb: string,
  title = `Lifeline: ${verb[0]?.toUpperCase()}${verb.slice(1)} Job`,
): Promise<Job | undefined> {
  if (typeof argument === 'string') {
    const job = queue.getJob(argument);
    if (!job) void vscode.window.showErrorMessage(`Lifeline: there is no job ${argument} in the queue.`);
    return job;
  }
  if (argument && typeof argument === 'object' && 'job' in argument) return queue.getJob(argument.job.id) ?? argument.job;
  const candidates = queue.jobs.filter((job) => states.includes(job.state));
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`Lifeline: no job to ${verb}.`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    candidates.map((job) => ({
      label: job.name,
      description: describeJobState(job),
      detail: job.state === 'interrupted' ? describeRecovery(job) : undefined,
      job,
    })),
    { title, placeHolder: `Pick a job to ${verb}` },
  );
  return picked?.job;
}
