import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { commandJobDefinitionSchema, pipelineJobDefinitionSchema } from '../../shared/workspaceConfig';
import { JobError } from './jobErrors';
import type { Job, QueueCommand, Stage } from './jobModel';
import { DEFAULT_GROUP } from './jobModel';
import { retryPolicyOf } from './retryPolicy';

type EnqueueCommand = Extract<QueueCommand, { type: 'enqueue' }>;

/** Turns zod issues into one line that names each field and its problem. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

/**
 * Builds a job from an enqueue command, refusing anything that could never run: the definition
 * is checked against the `.vscode/lifeline.json` schemas (empty command, duplicate stage names),
 * and every working directory must exist now, so that the problem is told at enqueue, not at run time.
 */
export function buildJob(command: EnqueueCommand, context: { id: string; now: number; position: number; baseDir: string }): Job {
  const raw = command.definition as unknown;
  const isPipeline = typeof raw === 'object' && raw !== null && 'stages' in raw;
  const parsed = (isPipeline ? pipelineJobDefinitionSchema : commandJobDefinitionSchema).safeParse(raw);
  if (!parsed.success) throw new JobError('invalidJob', `The job cannot run: ${describeIssues(parsed.error)}.`);
  const definition = parsed.data;
  const baseDir = command.baseDir ?? context.baseDir;
  const jobCwd = resolveCwd(baseDir, definition.cwd);
  const stages: Stage[] =
    'stages' in definition
      ? definition.stages.map((stage) => ({
          name: stage.name,
          command: stage.command,
          cwd: resolveCwd(jobCwd, stage.cwd),
          env: definition.env || stage.env ? { ...definition.env, ...stage.env } : undefined,
          outputs: stage.outputs ?? [],
          timeoutMs: stage.timeoutSeconds === undefined ? undefined : stage.timeoutSeconds * 1000,
          ...graceOf(stage.killGraceSeconds ?? definition.killGraceSeconds),
        }))
      : [
          {
            name: 'main',
            command: definition.command,
            cwd: jobCwd,
            env: definition.env,
            outputs: [],
            timeoutMs: undefined,
            ...graceOf(definition.killGraceSeconds),
          },
        ];
  for (const stage of stages) checkDirectory(stage, 'stages' in definition);
  const retry = retryPolicyOf(definition.retries, command.retry);
  const delayed = command.runAt !== undefined && command.runAt > context.now;
  return {
    id: context.id,
    name: definition.name,
    kind: 'stages' in definition ? 'pipeline' : 'command',
    group: command.group ?? DEFAULT_GROUP,
    stages,
    priority: definition.priority ?? 0,
    position: context.position,
    tags: definition.tags ?? [],
    state: delayed ? 'delayed' : 'queued',
    createdAt: context.now,
    notBefore: delayed ? command.runAt : undefined,
    timeoutMs: definition.timeoutSeconds === undefined ? undefined : definition.timeoutSeconds * 1000,
    retry,
    estimatedDurationMs: command.estimatedDurationMs,
    attempts: 0,
    completedStages: [],
    interruptions: 0,
  };
}

/** Absent unless set, so that jobs without one are stored as before. */
function graceOf(seconds: number | undefined): { killGraceMs?: number } {
  return seconds === undefined ? {} : { killGraceMs: Math.round(seconds * 1000) };
}

function resolveCwd(base: string, cwd: string | undefined): string {
  if (cwd === undefined) return base;
  return isAbsolute(cwd) ? cwd : resolve(base, cwd);
}

/** Synchronous: a stat of a local folder costs microseconds, a trip through the thread pool far more, on the way to every job's start. */
function checkDirectory(stage: Stage, named: boolean): void {
  const where = named ? `stage "${stage.name}": ` : '';
  try {
    const stat = statSync(stage.cwd);
    if (!stat.isDirectory()) {
      throw new JobError('invalidJob', `The job cannot run: ${where}the working directory ${stage.cwd} is not a directory.`);
    }
  } catch (error) {
    if (JobError.is(error)) throw error;
    throw new JobError('invalidJob', `The job cannot run: ${where}the working directory ${stage.cwd} does not exist.`);
  }
}
