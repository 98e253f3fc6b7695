import type { ParseError } from 'jsonc-parser';
import { getNodeValue, parseTree } from 'jsonc-parser';
import type { JobDefinition, WorkspaceConfig } from '../../shared/workspaceConfig';
import { workspaceConfigSchema } from '../../shared/workspaceConfig';
import type { ConfigPath, WorkspaceConfigProblem } from './workspaceConfigProblems';
import { describeProblem, locate, schemaProblems, syntaxProblems, TextPositions } from './workspaceConfigProblems';

/** Where the job definitions of a workspace live, relative to its folder. */
export const WORKSPACE_CONFIG_PATH = '.vscode/lifeline.json';

export type WorkspaceConfigResult =
  | {
      readonly ok: true;
      readonly config: WorkspaceConfig;
      /** A problem of a valid file (a folder outside the workspace), placed at its field. */
      problemAt(path: ConfigPath, message: string, key?: boolean): WorkspaceConfigProblem;
    }
  | {
      readonly ok: false;
      /** One line naming the file and each problem with its field, line and column. */
      readonly message: string;
      /** `line` (1-based) of the first problem. */
      readonly line: number;
      /** Every problem, each at its own place in the text, in the order of the text. */
      readonly problems: readonly WorkspaceConfigProblem[];
    };

/**
 * Reads `.vscode/lifeline.json`. A malformed file is reported with the line and column of each
 * syntax error or the path of each invalid field, never half-applied: the caller keeps the jobs it had.
 */
export function parseWorkspaceConfig(text: string, fileName = WORKSPACE_CONFIG_PATH): WorkspaceConfigResult {
  // VS Code edits .vscode/*.json as JSON with comments, so comments and trailing commas are fine here too.
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const positions = new TextPositions(text);
  if (errors.length > 0) return failure(fileName, syntaxProblems(errors, positions));
  const raw: unknown = root ? getNodeValue(root) : undefined;
  const parsed = workspaceConfigSchema.safeParse(raw);
  if (!parsed.success) return failure(fileName, schemaProblems(parsed.error.issues, root, raw, positions));
  return {
    ok: true,
    config: parsed.data,
    problemAt: (path, message, key = false) => {
      const at = locate(root, path, key);
      return positions.problem(path, message, at.offset, at.length);
    },
  };
}

function failure(fileName: string, problems: readonly WorkspaceConfigProblem[]): WorkspaceConfigResult {
  const sorted = [...problems].sort((a, b) => a.offset - b.offset);
  return { ok: false, message: `${fileName}: ${sorted.map(describeProblem).join('; ')}.`, line: sorted[0]?.line ?? 1, problems: sorted };
}

/** The definition of a named job, or undefined. */
export function findJobDefinition(config: WorkspaceConfig, name: string): JobDefinition | undefined {
  return config.jobs.find((job) => job.name === name);
}
