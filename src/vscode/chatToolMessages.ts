import { isAbsolute, resolve } from 'node:path';
import type { AddRequest } from '../core/control/addRequest';
import { parseAddRequest } from '../core/control/addRequest';
import { ControlError } from '../core/control/controlErrors';
import type { JobView } from '../core/control/jobView';
import type { DefinitionsRead } from '../core/control/workspaceDefinitions';
import { WORKSPACE_CONFIG_PATH } from '../core/workspaceConfig/workspaceConfigFile';

/**
 * The words of the chat tools (docs/chat-tools.md): what the confirmation before a run says, and
 * the one-line summary above each result's JSON. No VS Code API here, so each message is a plain
 * function of its input that the integration tests check directly.
 */

/** What `prepareInvocation` asks before anything runs: `message` is Markdown. */
export interface ToolConfirmation {
  readonly title: string;
  readonly message: string;
}

/** Markdown's special characters escaped, so a job's name shows as written and cannot add links or emphasis. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!<>|~]/g, (char) => `\\${char}`);
}

/** A fenced block longer than any run of backticks in `text`: a command cannot close its own block. */
export function codeBlock(text: string, language = 'sh'): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${text}\n${fence}`;
}

/** Inline code for a path: backticks inside it cannot end the span. */
function inlinePath(path: string): string {
  const longest = Math.max(0, ...(path.match(/`+/g) ?? []).map((run) => run.length));
  const tick = '`'.repeat(longest + 1);
  return `${tick} ${path} ${tick}`;
}

function folderOf(workspaceFolder: string, cwd: string | undefined): string {
  if (!cwd) return workspaceFolder;
  return isAbsolute(cwd) ? cwd : resolve(workspaceFolder, cwd);
}

function stagesText(
  stages: readonly { name: string; command: string; cwd?: string }[],
  workspaceFolder: string,
  cwd: string | undefined,
): string {
  return stages
    .map((stage, index) => {
      const where = stage.cwd ? ` in ${inlinePath(folderOf(folderOf(workspaceFolder, cwd), stage.cwd))}` : '';
      return `${index + 1}. **${escapeMarkdown(stage.name)}**${where}\n\n${codeBlock(stage.command)}`;
    })
    .join('\n\n');
}

function whenText(request: AddRequest): string {
  const notes = [
    request.delaySeconds ? `not before ${request.delaySeconds} s from now` : undefined,
    request.priority !== undefined ? `priority ${request.priority}` : undefined,
  ].filter((note) => note !== undefined);
  return notes.length > 0 ? ` (${notes.join(', ')})` : '';
}

const KEEPS_RUNNING = 'It runs in a process of its own and keeps running if the chat, this window or VS Code closes.';

/**
 * The confirmation of `lifeline_runJob`: the command or the definition, with every command it will
 * run and the folder it runs in. Throws ControlError for a request the queue would refuse (a
 * malformed one, or a definition the file does not have), so nobody is asked to allow a run that
 * cannot happen.
 */
export function runConfirmation(input: unknown, workspaceFolder: string, read: DefinitionsRead): ToolConfirmation {
  const request = parseAddRequest(input);
  const when = whenText(request);
  if (request.command !== undefined) {
    const folder = folderOf(workspaceFolder, request.cwd);
    return {
      title: 'Run a shell command in the Lifeline queue?',
      message: `Lifeline will queue this shell command${when} and run it in ${inlinePath(folder)}:\n\n${codeBlock(request.command)}\n\n${KEEPS_RUNNING}`,
    };
  }
  if (request.stages !== undefined) {
    return {
      title: `Run a ${request.stages.length}-stage pipeline in the Lifeline queue?`,
      message: `Lifeline will queue these stages${when}, run in order in ${inlinePath(folderOf(workspaceFolder, request.cwd))}:\n\n${stagesText(request.stages, workspaceFolder, request.cwd)}\n\n${KEEPS_RUNNING}`,
    };
  }
  const found = read.definitions.find((definition) => definition.name === request.definition);
  if (!found) {
    const known = read.definitions.map((definition) => definition.name);
    const why = read.problem ?? (known.length > 0 ? `the definitions are: ${known.join(', ')}` : 'the file defines no jobs');
    throw new ControlError('unknownDefinition', `No job named "${request.definition}" in ${WORKSPACE_CONFIG_PATH} (${why}).`);
  }
  const name = `**${escapeMarkdown(found.name)}** from ${inlinePath(WORKSPACE_CONFIG_PATH)}`;
  const folder = folderOf(workspaceFolder, found.cwd);
  const body =
    'command' in found
      ? `Lifeline will queue ${name}${when} and run it in ${inlinePath(folder)}:\n\n${codeBlock(found.command)}`
      : `Lifeline will queue ${name}${when}, a pipeline run in ${inlinePath(folder)}:\n\n${stagesText(found.stages, workspaceFolder, found.cwd)}`;
  return { title: `Run "${found.name}" in the Lifeline queue?`, message: `${body}\n\n${KEEPS_RUNNING}` };
}

/** The confirmation of `lifeline_retryJob`: an interrupted job resumes, a finished one runs again. */
export function retryConfirmation(job: JobView, workspaceFolder: string): ToolConfirmation {
  const resume = job.state === 'interrupted';
  const commands =
    job.kind === 'command' && job.command !== undefined ? codeBlock(job.command) : stagesText(job.stages, workspaceFolder, undefined);
  const what = resume
    ? `Lifeline will resume **${escapeMarkdown(job.name)}** (job ${job.id})${job.stage ? ` at stage ${job.stage.number} of ${job.stage.of}` : ''}`
    : `Lifeline will run **${escapeMarkdown(job.name)}** (job ${job.id}) again`;
  return {
    title: resume ? `Resume "${job.name}"?` : `Run "${job.name}" again?`,
    message: `${what}, in the workspace ${inlinePath(workspaceFolder)}:\n\n${commands}\n\n${KEEPS_RUNNING}`,
  };
}

/** The confirmation of `lifeline_cancelJob`: it stops processes someone may be waiting for. */
export function cancelConfirmation(job: JobView, workspaceFolder: string): ToolConfirmation {
  return {
    title: `Cancel "${job.name}"?`,
    message: `Lifeline will cancel **${escapeMarkdown(job.name)}** (job ${job.id}, ${job.state}) in the workspace ${inlinePath(workspaceFolder)}: its processes are stopped.`,
  };
}

/** One line a person (and the model) reads before the JSON: id, name, state and what is known of its progress. */
export function jobSummary(job: JobView): string {
  const parts = [`Job ${job.id} "${job.name}" is ${job.state}`];
  if (job.stage) parts.push(`stage ${job.stage.number} of ${job.stage.of} (${job.stage.name})`);
  if (job.progress?.fraction !== undefined && !job.finished) parts.push(`${Math.round(job.progress.fraction * 100)}%`);
  if (job.progress?.message && !job.finished) parts.push(job.progress.message);
  if (typeof job.exitCode === 'number') parts.push(`exit code ${job.exitCode}`);
  if (job.signal) parts.push(`signal ${job.signal}`);
  if (job.error) parts.push(job.error);
  if (job.estimatedRemainingMs !== undefined) parts.push(`about ${Math.ceil(job.estimatedRemainingMs / 1000)} s left`);
  return `${parts.join(', ')}.`;
}

/** A tool result's text: the summary, then the JSON that carries everything (docs/chat-tools.md). */
export function resultText(summary: string, payload: unknown): string {
  return `${summary}\n\n${JSON.stringify(payload, null, 2)}`;
}
