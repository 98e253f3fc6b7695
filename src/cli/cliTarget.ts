import { promises as fs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { workspaceDirectoryName } from '../core/storage/workspaceDirectory';
import { globalStorageCandidates, workspaceKeysOf } from '../storeCli/locate';
import { CommandLineError } from './cliErrors';

/** The workspace a `lifeline` command works on. */
export interface CliTarget {
  /** Lifeline's storage folder for the workspace (<globalStorage>/lifeline.lifeline/workspaces/<id>). */
  readonly storageDirectory: string;
  readonly workspaceKey: string;
  /** Relative job folders resolve against it. */
  readonly workspaceFolder: string;
}

/**
 * Set by the extension in its integrated terminals (environmentVariableCollection): the window's
 * own workspace, so `lifeline` there needs no flag, whatever the shell's current folder.
 */
export const TERMINAL_ENV = {
  storage: 'LIFELINE_WORKSPACE_STORAGE',
  folder: 'LIFELINE_WORKSPACE_FOLDER',
  key: 'LIFELINE_WORKSPACE_KEY',
  /** The extension's global storage folder: where `--workspace DIR` looks first. */
  globalStorage: 'LIFELINE_GLOBAL_STORAGE',
} as const;

async function isDirectory(path: string): Promise<boolean> {
  return fs.stat(path).then(
    (stat) => stat.isDirectory(),
    () => false,
  );
}

/**
 * Finds the workspace: `--workspace DIR` (that folder), else the terminal's window (its
 * environment), else the current folder or the nearest parent that Lifeline knows.
 */
export async function resolveTarget(
  options: { workspace?: string; userDataDir?: string },
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<CliTarget> {
  if (options.workspace === undefined && env[TERMINAL_ENV.storage] && env[TERMINAL_ENV.folder] && env[TERMINAL_ENV.key]) {
    const storageDirectory = env[TERMINAL_ENV.storage] as string;
    if (await isDirectory(storageDirectory)) {
      return { storageDirectory, workspaceFolder: env[TERMINAL_ENV.folder] as string, workspaceKey: env[TERMINAL_ENV.key] as string };
    }
  }
  const roots =
    options.userDataDir === undefined && env[TERMINAL_ENV.globalStorage]
      ? [env[TERMINAL_ENV.globalStorage] as string, ...globalStorageCandidates(undefined, env)]
      : globalStorageCandidates(options.userDataDir, env);
  if (options.workspace !== undefined) {
    const folder = resolve(cwd, options.workspace);
    if (!(await isDirectory(folder))) throw new CommandLineError('usage', `The workspace ${folder} does not exist or is not a folder.`);
    const found = await findStorage(folder, roots);
    if (!found) throw notKnown(folder, roots);
    return found;
  }
  for (let folder = resolve(cwd); ; folder = dirname(folder)) {
    const found = await findStorage(folder, roots);
    if (found) return found;
    if (dirname(folder) === folder) break;
  }
  throw notKnown(resolve(cwd), roots);
}

async function findStorage(folder: string, roots: readonly string[]): Promise<CliTarget | undefined> {
  for (const root of [...new Set(roots)]) {
    for (const key of workspaceKeysOf(folder)) {
      const storageDirectory = join(root, 'workspaces', workspaceDirectoryName(key));
      if (await isDirectory(storageDirectory)) return { storageDirectory, workspaceKey: key, workspaceFolder: folder };
    }
  }
  return undefined;
}

function notKnown(folder: string, roots: readonly string[]): CommandLineError {
  return new CommandLineError(
    'unavailable',
    `Lifeline has no queue for ${folder} (or a parent folder): open the folder in VS Code with Lifeline once, or give --workspace DIR (and --user-data-dir DIR when the editor runs with its own). Looked in:\n  ${[...new Set(roots)].join('\n  ')}`,
  );
}
