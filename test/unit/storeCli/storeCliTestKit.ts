import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { nullLogger } from '../../../src/core/logger';
import type { RecordCipher } from '../../../src/core/storage/cipher';
import { StateStore } from '../../../src/core/storage/stateStore';
import { openWorkspaceDirectory } from '../../../src/core/storage/workspaceDirectory';
import type { HistoryEntry } from '../../../src/core/history/historyEntry';
import type { RuntimeContext } from '../../../src/core/runtime/runtimeContext';
import { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { wasmPath } from '../history/historyFixtures';
import { until } from '../runtime/runtimeTestKit';
import type { ProcessRun } from '../../kit/processRun';
import { collect } from '../../kit/processRun';
import { killSupervisorsOf, supervisorScript } from '../supervisors/supervisorTestKit';

/** The built command, as `npm run build` writes it (the tests run the bundle, as a person would). */
export const cliPath = join(__dirname, '..', '..', '..', '..', 'dist', 'lifeline-store.js');

export type CliRun = ProcessRun;

/** Runs `node dist/lifeline-store.js ...args` as a child process (asynchronously: a runtime in this process keeps beating). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return collect(spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, LIFELINE_RECOVERY_KEY: '', ...env } }));
}

/** Every file under `directory` with the sha256 of its bytes: equal before and after means nothing changed. */
export function folderFingerprint(directory: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else found.set(relative(directory, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(directory);
  return found;
}

export interface Folders {
  readonly root: string;
  /** `$HOME` of the child: code-server's default user data is under it. */
  readonly home: string;
  readonly userDataDir: string;
  readonly workspace: string;
  /** The workspace's storage folder. */
  readonly storage: string;
  readonly workspaceKey: string;
  openRuntime(overrides?: Partial<RuntimeContext>): Promise<WorkspaceRuntime>;
}

function recent(runtime: WorkspaceRuntime): readonly HistoryEntry[] {
  return runtime.history.history?.page({ sort: 'finishedAt', direction: 'desc', limit: 50 }).entries ?? [];
}

/**
 * A workspace and its storage folder where code-server keeps it by default
 * (`$HOME/.local/share/code-server/User/globalStorage/lifeline.lifeline`), one per test, removed after.
 */
export function useStoreFolders(): () => Folders {
  let folders: Folders | undefined;
  const runtimes: WorkspaceRuntime[] = [];
  beforeEach(async () => {
    const root = mkdtempSync(join(tmpdir(), 'lifeline-store-test-'));
    const home = join(root, 'home');
    const userDataDir = join(home, '.local', 'share', 'code-server');
    const workspace = join(root, 'workspace');
    mkdirSync(workspace, { recursive: true });
    const workspaceKey = `file:${workspace}`;
    const directory = await openWorkspaceDirectory(join(userDataDir, 'User', 'globalStorage', 'lifeline.lifeline'), workspaceKey);
    folders = {
      root,
      home,
      userDataDir,
      workspace,
      storage: directory.path,
      workspaceKey,
      async openRuntime(overrides = {}) {
        const runtime = await WorkspaceRuntime.open({
          storageDirectory: directory.path,
          workspaceKey,
          baseDir: workspace,
          logger: nullLogger,
          role: 'test',
          supervisorScript,
          sqlWasmPath: wasmPath,
          ...overrides,
        });
        runtimes.push(runtime);
        return runtime;
      },
    };
  });
  afterEach(async () => {
    while (runtimes.length > 0) await runtimes.pop()?.close();
    if (folders) {
      killSupervisorsOf(join(folders.storage, 'jobs'));
      rmSync(folders.root, { recursive: true, force: true });
    }
  });
  return () => {
    if (!folders) throw new Error('the folders exist only inside a test');
    return folders;
  };
}

/**
 * Fills the folder through the product's own paths: a runtime runs two jobs through real
 * supervisors (queue and history), a third waits in the paused queue, and the state store holds
 * one namespace. Everything is closed after.
 */
export async function fillFolder(folders: Folders, options: { stateCipher?: RecordCipher } = {}): Promise<void> {
  const runtime = await folders.openRuntime({ options: { concurrency: 2 } });
  await runtime.history.whenOpen();
  for (const name of ['first', 'second']) {
    await runtime.queue.execute({ type: 'enqueue', definition: { name, command: `echo ${name}` } });
  }
  await until(runtime.history.onDidChange, () => recent(runtime).length === 2, 'both jobs are in the history');
  await runtime.queue.execute({ type: 'setPaused', paused: true });
  await runtime.queue.execute({ type: 'enqueue', definition: { name: 'waiting', command: 'echo later' } });
  await runtime.close();
  const state = await StateStore.open({ directory: join(folders.storage, 'state'), cipher: options.stateCipher });
  const namespace = await state.namespace('test');
  await namespace.set('answer', 42);
  await state.close();
}
