import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Folders } from '../storeCli/storeCliTestKit';
import type { ProcessRun } from '../../kit/processRun';
import { collect } from '../../kit/processRun';

/** The built command, as `npm run build` writes it: the tests run the bundle, as a terminal would. */
export const lifelinePath = join(__dirname, '..', '..', '..', '..', 'dist', 'lifeline.js');

export type LifelineRun = ProcessRun;

/** `lifeline ...args` on the test's workspace, as a plain shell outside VS Code runs it (`--workspace`, `--user-data-dir`). */
export function lifelineArgs(folders: Folders, args: readonly string[]): string[] {
  return [lifelinePath, ...args, '--workspace', folders.workspace, '--user-data-dir', folders.userDataDir];
}

export function spawnLifeline(folders: Folders, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, lifelineArgs(folders, args), {
    cwd: folders.root,
    env: { ...process.env, LIFELINE_RECOVERY_KEY: '', LIFELINE_WORKSPACE_STORAGE: '', HOME: folders.home, ...env },
  });
}

/** Runs it to the end (asynchronously: a runtime in this process keeps beating meanwhile). */
export function runLifeline(folders: Folders, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<LifelineRun> {
  return collect(spawnLifeline(folders, args, env));
}
