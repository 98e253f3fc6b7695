import * as nodeFs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { FreeSpaceProbe } from '../core/runtime/lowDiskMonitor';
import { statfsFreeBytes } from '../core/runtime/lowDiskMonitor';
import type { StorageFs } from '../core/storage/storageFs';
import { installStorageFs, nodeStorageFs } from '../core/storage/storageFs';

/**
 * TEST ONLY. The integration tests' host (test/host/runIntegration.ts) sets this variable in the
 * environment of the code-server it starts, and nothing else does: without it none of this file
 * runs and the stores use node:fs as always. A real full disk cannot be made without privileges,
 * so the disk-full integration test fills it through the stores' file-system seam (storageFs.ts).
 */
export const TEST_STORAGE_FAULTS_ENV = 'LIFELINE_TEST_STORAGE_FAULTS';

/** What the integration tests reach through the extension's API while the variable is set. */
export interface TestStorageFaults {
  /** From now on every write of the stores fails with ENOSPC and the disk reports 0 bytes free; `false` ends it. */
  setDiskFull(full: boolean): void;
  /** The low-disk monitor's probe: 0 while "full", fs.statfs otherwise. */
  readonly freeBytes: FreeSpaceProbe;
}

/** The switch when the test host asked for it (once per extension host), else undefined. */
export function testStorageFaults(env: NodeJS.ProcessEnv = process.env): TestStorageFaults | undefined {
  if (env[TEST_STORAGE_FAULTS_ENV] !== '1') return undefined;
  installed ??= install();
  return installed;
}

let installed: TestStorageFaults | undefined;

function install(): TestStorageFaults {
  let full = false;
  const enospc = (call: string): NodeJS.ErrnoException =>
    Object.assign(new Error(`ENOSPC: no space left on device, ${call}`), { code: 'ENOSPC', errno: -28, syscall: call });
  // What fails on a full disk: writing bytes and making new entries. Reading, renaming over and
  // removing go on, as they do on a real one (removing is how space comes back).
  const failingPromises = new Set(['writeFile', 'appendFile', 'copyFile', 'mkdir', 'mkdtemp', 'link', 'symlink']);
  const failingHandle = new Set(['write', 'writev', 'writeFile', 'appendFile']);
  const creates = (flags: unknown): boolean => typeof flags === 'string' && /[wa+x]/.test(flags) && flags !== 'r+';
  const wrapHandle = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (typeof key === 'string' && failingHandle.has(key)) {
          return (...args: unknown[]) => (full ? Promise.reject(enospc(key)) : (value as (...a: unknown[]) => unknown).apply(target, args));
        }
        return (value as (...a: unknown[]) => unknown).bind(target);
      },
    });
  const promises = new Proxy(nodeFs.promises, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (key === 'open') {
        return async (path: nodeFs.PathLike, flags?: string | number, mode?: nodeFs.Mode) => {
          if (full && creates(flags)) throw enospc('open');
          return wrapHandle(await target.open(path, flags, mode));
        };
      }
      if (typeof key === 'string' && failingPromises.has(key) && typeof value === 'function') {
        return (...args: unknown[]) => (full ? Promise.reject(enospc(key)) : (value as (...a: unknown[]) => unknown).apply(target, args));
      }
      return value;
    },
  });
  const layer: StorageFs = {
    ...nodeStorageFs,
    promises,
    openSync: ((path: nodeFs.PathLike, flags?: nodeFs.OpenMode, mode?: nodeFs.Mode) => {
      if (full && creates(flags)) throw enospc('open');
      return nodeFs.openSync(path, flags ?? 'r', mode);
    }) as typeof nodeFs.openSync,
    writeSync: ((...args: Parameters<typeof nodeFs.writeSync>) => {
      if (full) throw enospc('write');
      return (nodeFs.writeSync as (...a: unknown[]) => number)(...args);
    }) as typeof nodeFs.writeSync,
    write: ((...args: unknown[]) => {
      const callback = args.at(-1) as (error: NodeJS.ErrnoException | null, written: number) => void;
      if (full) return process.nextTick(() => callback(enospc('write'), 0));
      return (nodeFs.write as (...a: unknown[]) => void)(...args);
    }) as typeof nodeFs.write,
  };
  // For the life of the extension host: the tests' host, which nothing else runs in.
  installStorageFs(layer);
  return {
    setDiskFull(value) {
      full = value;
    },
    freeBytes: (path) => (full ? Promise.resolve(0) : statfsFreeBytes(path)),
  };
}
