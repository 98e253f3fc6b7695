import type { JobDefinition } from '../../shared/workspaceConfig';
import type { Logger } from '../logger';
import type { OutsideFolder } from './jobFolders';
import { foldersOutside } from './jobFolders';
import { parseWorkspaceConfig, WORKSPACE_CONFIG_PATH } from './workspaceConfigFile';
import type { WorkspaceConfigProblem } from './workspaceConfigProblems';
import { describeProblem } from './workspaceConfigProblems';

/** What one read of `.vscode/lifeline.json` found. */
export interface WorkspaceConfigState {
  /** The definitions in use: those of this read, or of the last good one when this read failed. */
  readonly definitions: readonly JobDefinition[];
  /** Why the file could not be used (one line), or undefined when it was read or is absent. */
  readonly problem: string | undefined;
  /** Each error, at its place in the file (none when the file could not be read at all). */
  readonly errors: readonly WorkspaceConfigProblem[];
  /** Each `cwd` outside the workspace not yet allowed, at its field: the job is asked about before it runs. */
  readonly warnings: readonly WorkspaceConfigProblem[];
  /** The names of the jobs those warnings are about. */
  readonly askBeforeRunning: ReadonlySet<string>;
}

export type WorkspaceConfigRead = { readonly text: string } | { readonly missing: true } | { readonly failed: string };

/**
 * Turns each read of `.vscode/lifeline.json` into the definitions to use and the problems to
 * show, and logs what changed, once: a save fires the file watcher more than once, and each read
 * of the same content must not log it again.
 */
export class WorkspaceConfigReader {
  private definitions: readonly JobDefinition[] = [];
  private lastLogged: string | undefined;

  constructor(
    private readonly workspaceFolder: string,
    private readonly logger: Logger,
    private readonly allowed: { isAllowed(jobName: string, folder: string): boolean },
  ) {}

  read(input: WorkspaceConfigRead): WorkspaceConfigState {
    if ('missing' in input) {
      // Most folders have no such file: nothing to log, but a file that comes back is logged afresh.
      if (this.definitions.length > 0 || this.lastLogged !== undefined) {
        this.log('info', `${WORKSPACE_CONFIG_PATH} is gone: no job definitions`);
      }
      this.definitions = [];
      return { definitions: [], problem: undefined, errors: [], warnings: [], askBeforeRunning: new Set() };
    }
    if ('failed' in input) return this.failed(`${WORKSPACE_CONFIG_PATH} cannot be read: ${input.failed}`, []);
    const result = parseWorkspaceConfig(input.text);
    if (!result.ok) return this.failed(result.message, result.problems);
    this.definitions = result.config.jobs;
    const outside = foldersOutside(result.config, this.workspaceFolder).filter(
      (found) => !this.allowed.isAllowed(found.jobName, found.folder),
    );
    const warnings = outside.map((found) => result.problemAt(found.path, describeOutside(found)));
    const summary = `${result.config.jobs.length} job definition(s) in ${WORKSPACE_CONFIG_PATH}`;
    if (warnings.length === 0) this.log('info', summary);
    else this.log('warn', `${summary}; asked before they run: ${warnings.map(describeProblem).join('; ')}`);
    return {
      definitions: this.definitions,
      problem: undefined,
      errors: [],
      warnings,
      askBeforeRunning: new Set(outside.map((found) => found.jobName)),
    };
  }

  private failed(message: string, errors: readonly WorkspaceConfigProblem[]): WorkspaceConfigState {
    this.log('warn', `${message} (keeping the ${this.definitions.length} definition(s) read before)`);
    return { definitions: this.definitions, problem: message, errors, warnings: [], askBeforeRunning: new Set() };
  }

  private log(level: 'info' | 'warn', message: string): void {
    if (message === this.lastLogged) return;
    this.lastLogged = message;
    this.logger[level](`[workspaceJobs] ${message}`);
  }
}

/** The message at a `cwd` field that leads out of the workspace folder. */
export function describeOutside(found: OutsideFolder): string {
  return `"${found.jobName}" would run in ${found.folder}, outside the workspace folder: Lifeline asks you once before it runs there`;
}
