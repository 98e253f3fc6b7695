import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { JobDefinition, WorkspaceConfig } from '../../shared/workspaceConfig';
import type { ConfigPath } from './workspaceConfigProblems';

/** A `cwd` field of `.vscode/lifeline.json` that takes a job out of the workspace folder. */
export interface OutsideFolder {
  readonly jobName: string;
  /** The field, e.g. `['jobs', 2, 'stages', 0, 'cwd']`. */
  readonly path: ConfigPath;
  /** Where the field leads, `..` and symlinks resolved. */
  readonly folder: string;
}

/**
 * Every `cwd` of the definitions (a job's, and each stage's, which is relative to its job's) that
 * resolves outside the workspace folder: through `..`, an absolute path, or a symlink. A job
 * works on the files of its folder (Discard deletes a stage's outputs there), so a folder
 * elsewhere is run only after the user allows it. Resolved as the queue resolves them (jobDefinitions.ts).
 */
export function foldersOutside(config: WorkspaceConfig, workspaceFolder: string): OutsideFolder[] {
  return config.jobs.flatMap((job, index) => jobFoldersOutside(job, workspaceFolder, index));
}

/** The same for one definition, `index` being its place in the file. */
export function jobFoldersOutside(job: JobDefinition, workspaceFolder: string, index = 0): OutsideFolder[] {
  const root = realFolder(workspaceFolder);
  const outside: OutsideFolder[] = [];
  const check = (path: ConfigPath, folder: string): void => {
    const real = realFolder(folder);
    if (!isInside(real, root)) outside.push({ jobName: job.name, path, folder: real });
  };
  const jobCwd = job.cwd === undefined ? workspaceFolder : resolve(workspaceFolder, job.cwd);
  if (job.cwd !== undefined) check(['jobs', index, 'cwd'], jobCwd);
  if ('stages' in job) {
    job.stages.forEach((stage, stageIndex) => {
      if (stage.cwd !== undefined) check(['jobs', index, 'stages', stageIndex, 'cwd'], resolve(jobCwd, stage.cwd));
    });
  }
  return outside;
}

/** Whether `folder` is `root` or below it (both already resolved). */
export function isInside(folder: string, root: string): boolean {
  const path = relative(root, folder);
  return path === '' || (path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path));
}

/**
 * The real path of a folder: symlinks resolved through its nearest existing ancestor, so a folder
 * not yet created below a link that leads out is caught as well.
 */
export function realFolder(folder: string): string {
  let existing = resolve(folder);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync.native(existing), ...rest.reverse());
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return resolve(folder);
      rest.push(basename(existing));
      existing = parent;
    }
  }
}
