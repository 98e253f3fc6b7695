import { z } from 'zod';
import { describeIssues } from '../queue/jobDefinitions';
import { ControlError } from './controlErrors';

const stageRequestSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    command: z.string().trim().min(1).max(100_000),
    cwd: z.string().min(1).max(4096).optional(),
  })
  .strict();

/**
 * What `lifeline add`, the MCP `run_job` tool and the chat tool ask for: a definition of
 * `.vscode/lifeline.json` by name, one shell command, or stages, with the few things a caller may
 * set. The command text goes to the job as one field and is run by the supervisor's shell as it
 * is: nothing here pastes fields together into a command line.
 */
export const addRequestSchema = z
  .object({
    definition: z.string().trim().min(1).max(200).optional(),
    command: z.string().trim().min(1).max(100_000).optional(),
    stages: z.array(stageRequestSchema).min(1).max(100).optional(),
    /** The name shown in the queue; a command's own text by default. */
    label: z.string().trim().min(1).max(200).optional(),
    priority: z.number().int().min(-100).max(100).optional(),
    delaySeconds: z
      .number()
      .nonnegative()
      .max(365 * 24 * 3600)
      .optional(),
    tags: z.array(z.string().trim().min(1).max(50)).max(20).optional(),
    /** Working folder of a command or of every stage without its own; relative to the workspace folder. */
    cwd: z.string().min(1).max(4096).optional(),
  })
  .strict()
  .refine((r) => [r.definition, r.command, r.stages].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of a definition name, a command or stages',
  });
export type AddRequest = z.infer<typeof addRequestSchema>;

/** Validates any input (a CLI's parsed flags, an agent's JSON) as an add request, with a message naming each field. */
export function parseAddRequest(input: unknown): AddRequest {
  const parsed = addRequestSchema.safeParse(input);
  if (!parsed.success) throw new ControlError('invalidRequest', `Invalid job: ${describeIssues(parsed.error)}.`);
  return parsed.data;
}
