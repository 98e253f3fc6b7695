import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event } from '../../../src/core/emitter';
import { nullLogger } from '../../../src/core/logger';
import type { RuntimeContext } from '../../../src/core/runtime/runtimeContext';
import { WorkspaceRuntime } from '../../../src/core/runtime/workspaceRuntime';
import { openWorkspaceDirectory } from '../../../src/core/storage/workspaceDirectory';
import { wasmPath } from '../history/historyFixtures';
import { killSupervisorsOf, supervisorScript } from '../supervisors/supervisorTestKit';
import { until as waitUntil } from '../../kit/until';

/** Resolves once `done()` holds, checked at once and after each firing of `event` (test/kit/until.ts). */
export function until(event: Event<unknown>, done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  return waitUntil(event, done, what, timeoutMs);
}

/**
 * A global storage folder and a workspace folder of their own for each test, and runtimes opened
 * on them as the extension opens its own (the storage folder from the workspace key); all closed
 * and removed after the test.
 */
export function useRuntimeFolders(): { readonly workspace: string; open(overrides?: Partial<RuntimeContext>): Promise<WorkspaceRuntime> } {
  let root = '';
  let workspace = '';
  let storage = '';
  let runtimes: WorkspaceRuntime[] = [];
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'lifeline-runtime-'));
    workspace = join(root, 'workspace');
    mkdirSync(workspace);
    runtimes = [];
  });
  afterEach(async () => {
    for (const runtime of runtimes) await runtime.close();
    // The runtimes' keys, for journals a test sealed (they are closed, but remember the key they had).
    const ciphers = runtimes.map((runtime) => runtime.encryption.cipher).filter((cipher) => cipher !== undefined);
    if (storage) killSupervisorsOf(join(storage, 'jobs'), (fingerprint) => ciphers.find((cipher) => cipher.keyFingerprint === fingerprint));
    rmSync(root, { recursive: true, force: true });
  });
  return {
    get workspace() {
      return workspace;
    },
    async open(overrides = {}) {
      const workspaceKey = `file:${workspace}`;
      const directory = await openWorkspaceDirectory(join(root, 'globalStorage'), workspaceKey);
      storage = directory.path;
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
}
