import type { ParseError } from 'jsonc-parser';
import { parse, printParseErrorCode } from 'jsonc-parser';
import type { JobDefinition, WorkspaceConfig } from '../../shared/workspaceConfig';
import { workspaceConfigSchema } from '../../shared/workspaceConfig';
import { describeIssues } from './jobDefinitions';

/** Where the job definitions of a workspace live, relative to its folder. */
export const WORKSPACE_CONFIG_PATH = '.vscode/lifeline.json';

export type WorkspaceConfigResult =
  | { readonly ok: true; readonly config: WorkspaceConfig }
  /** `line` (1-based) is known for a syntax error; the message names the file, the field and the problem. */
  | { readonly ok: false; readonly message: string; readonly line?: number };

/**
 * Reads `.vscode/lifeline.json`. A malformed file is reported with the line of a syntax error or
 * the path of each invalid field, never half-applied: the caller keeps the jobs it had.
 */
export function parseWorkspaceConfig(text: string, fileName = WORKSPACE_CONFIG_PATH): WorkspaceConfigResult {
  // VS Code edits .vscode/*.json as JSON with comments, so comments and trailing commas are fine here too.
  const errors: ParseError[] = [];
  const raw: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const line = text.slice(0, first.offset).split('\n').length;
    return { ok: false, message: `${fileName} line ${line} is not valid JSON: ${describeParseError(printParseErrorCode(first.error))}.`, line };
  }
  const parsed = workspaceConfigSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, message: `${fileName} does not describe Lifeline jobs: ${describeIssues(parsed.error)}.` };
  return { ok: true, config: parsed.data };
}

/** The definition of a named job, or undefined. */
export function findJobDefinition(config: WorkspaceConfig, name: string): JobDefinition | undefined {
  return config.jobs.find((job) => job.name === name);
}

/** `ValueExpected` → `value expected`. */
function describeParseError(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}
