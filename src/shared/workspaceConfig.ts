import { z } from 'zod';

/**
 * The schema of `.vscode/lifeline.json`: job definitions versioned with the repository.
 * It is the single source of `dist/lifeline.schema.json`, which `contributes.jsonValidation`
 * points at, so editor validation and run-time validation cannot drift apart.
 */

const name = z
  .string()
  .trim()
  .min(1, 'a name cannot be empty')
  .max(200, 'a name is at most 200 characters')
  .describe('A short, unique name shown in the queue and the history.');

const command = z.string().trim().min(1, 'a command cannot be empty').describe('A shell command, run by the default shell.');

const env = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), z.string())
  .describe('Extra environment variables for the command.');

/** A check that reports each repeated name at that name's own field, so an editor can point at it. */
function uniqueNames(message: string) {
  return (items: readonly { name: string }[], ctx: z.RefinementCtx): void => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      if (seen.has(item.name)) ctx.addIssue({ code: 'custom', message: `${message} ("${item.name}")`, path: [index, 'name'] });
      seen.add(item.name);
    });
  };
}

const cwd = z.string().min(1).describe('Working directory, relative to the workspace folder unless absolute.');

const killGraceSeconds = z.number().nonnegative().max(3600).optional();

export const stageDefinitionSchema = z
  .object({
    name,
    command,
    cwd: cwd.optional(),
    env: env.optional(),
    outputs: z
      .array(z.string().min(1))
      .optional()
      .describe('Files the stage produces; on resume a finished stage is skipped only when all of them still exist.'),
    timeoutSeconds: z.number().positive().optional().describe('Kill the stage after this many seconds.'),
    killGraceSeconds: killGraceSeconds.describe(
      "When the stage is cancelled or times out: seconds between SIGTERM and SIGKILL. Default: the job's, else the setting lifeline.jobs.killGraceSeconds.",
    ),
  })
  .strict();

/**
 * A job's retry settings as written in `.vscode/lifeline.json`, in seconds. The queue stores them
 * in milliseconds, with its defaults; its stored policy (core/queue/retryPolicy.ts) is built from
 * these fields, so the two formats cannot disagree on what a valid value is.
 */
export const retriesDefinitionSchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(100).describe('Attempts in all, the first included.'),
    backoff: z.enum(['fixed', 'exponential']).optional(),
    delaySeconds: z.number().nonnegative().optional(),
    doNotRetryExitCodes: z.array(z.number().int()).optional(),
  })
  .strict();
export type RetriesDefinition = z.infer<typeof retriesDefinitionSchema>;

const jobCommon = {
  name,
  cwd: cwd.optional(),
  env: env.optional(),
  priority: z.number().int().min(-100).max(100).optional().describe('Higher runs first. Default 0.'),
  tags: z.array(z.string().min(1).max(50)).max(20).optional(),
  timeoutSeconds: z.number().positive().optional().describe('Kill the job after this many seconds.'),
  killGraceSeconds: killGraceSeconds.describe(
    'When the job is cancelled or times out, its processes get SIGTERM, then SIGKILL after this many seconds. Default: the setting lifeline.jobs.killGraceSeconds (10).',
  ),
  retries: retriesDefinitionSchema.optional(),
};

export const commandJobDefinitionSchema = z.object({ ...jobCommon, command }).strict();

export const pipelineJobDefinitionSchema = z
  .object({
    ...jobCommon,
    stages: z
      .array(stageDefinitionSchema)
      .min(1, 'a pipeline needs at least one stage')
      .superRefine(uniqueNames('two stages share one name')),
  })
  .strict();

// The message is what a job matching neither form (or both) is told: see workspaceConfigProblems.ts.
export const jobDefinitionSchema = z.union([commandJobDefinitionSchema, pipelineJobDefinitionSchema], {
  error: 'a job has either a "command" or "stages" (exactly one of the two)',
});

export const workspaceConfigSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1).describe('Format version of this file.'),
    jobs: z
      .array(jobDefinitionSchema)
      .default([])
      .superRefine(uniqueNames('two jobs share one name'))
      .describe('Job definitions that can be queued from the command palette.'),
  })
  .strict();

export type WorkspaceConfig = z.infer<typeof workspaceConfigSchema>;
export type JobDefinition = z.infer<typeof jobDefinitionSchema>;
