import type { FileHandle } from 'node:fs/promises';
import type { StorageFs } from '../../../src/core/storage/storageFs';
import { installStorageFs, nodeStorageFs } from '../../../src/core/storage/storageFs';

/** The FileHandle calls that touch the disk (the rest are streams and event-emitter plumbing). */
const HANDLE_CALLS = new Set([
  'read',
  'readv',
  'readFile',
  'write',
  'writev',
  'writeFile',
  'appendFile',
  'sync',
  'datasync',
  'truncate',
  'stat',
  'chmod',
  'utimes',
]);

/**
 * The calls a full disk can refuse: those that allocate (a create, a write, a directory entry, a
 * sync that flushes delayed allocations). Reading, listing and removing never hit ENOSPC, and a
 * store that frees space must still be able to; EIO may hit any call.
 */
const ALLOCATING =
  /(^|\.)(open|openSync|mkdir|mkdtemp|write|writeSync|writev|writeFile|appendFile|copyFile|rename|link|symlink|sync|datasync|fdatasync|truncate|ftruncate)$/;

/**
 * A storage layer that fails the Nth file call with an errno (SQLite's ioerr test loop): every
 * call the stores make through the storageFs seam counts, on fs.promises, on the callback and sync
 * functions, and on the FileHandles that promises.open returns (read, write, sync, truncate...).
 * Closing a handle or a descriptor also counts but never fails: a close that fails would leak the
 * descriptor in the test, and Node closes handles on garbage collection anyway.
 *
 * Calls that read nothing about the disk's health (path lookups such as access/stat) count too:
 * a real disk can fail them, and a store must handle their failure like any other.
 */
export class FaultFs {
  /** Calls counted so far (failed or not). */
  calls = 0;
  /** Calls that were failed. */
  injected = 0;
  private failAt: number | undefined;
  private code = 'EIO';
  /** With `persistent`, every call from the Nth on fails until `heal()`: a disk that stays full. */
  private persistent = false;
  private readonly installation: { dispose(): void };
  /** Names of the calls, in order, for a failing test's message. */
  readonly trace: string[] = [];

  constructor() {
    this.installation = installStorageFs(this.layer());
  }

  /** Fails call number `n` (1-based, counted from now) with `code`; with `persistent`, every later call too. */
  failNth(n: number, code: 'EIO' | 'ENOSPC', persistent = false): void {
    this.calls = 0;
    this.injected = 0;
    this.trace.length = 0;
    this.failAt = n;
    this.code = code;
    this.persistent = persistent;
  }

  /** Removes the fault: every call from now succeeds. */
  heal(): void {
    this.failAt = undefined;
  }

  dispose(): void {
    this.installation.dispose();
  }

  /** Counts one call named `name`; throws the injected error when it is the one to fail. */
  private tick(name: string, mayFail = true): NodeJS.ErrnoException | undefined {
    this.calls++;
    this.trace.push(name);
    if (!mayFail || this.failAt === undefined) return undefined;
    if (this.code === 'ENOSPC' && !ALLOCATING.test(name)) return undefined;
    if (this.calls === this.failAt || (this.persistent && this.calls > this.failAt)) {
      this.injected++;
      const error: NodeJS.ErrnoException = new Error(`${this.code}: injected failure of call ${this.calls} (${name})`);
      error.code = this.code;
      error.errno = this.code === 'EIO' ? -5 : -28;
      error.syscall = name;
      return error;
    }
    return undefined;
  }

  private layer(): StorageFs {
    const base = nodeStorageFs;
    const promises = new Proxy(base.promises, {
      get: (target, key) => {
        const original = Reflect.get(target, key) as unknown;
        if (typeof original !== 'function') return original;
        const name = String(key);
        return async (...args: unknown[]) => {
          const error = this.tick(`promises.${name}`);
          if (error) throw error;
          const result = (await (original as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
          return name === 'open' ? this.wrapHandle(result as FileHandle) : result;
        };
      },
    });
    const sync =
      <A extends unknown[], R>(name: string, fn: (...args: A) => R, mayFail = true) =>
      (...args: A): R => {
        const error = this.tick(name, mayFail);
        if (error) throw error;
        return fn(...args);
      };
    // The callback forms: the error is delivered to the callback, asynchronously, as Node does.
    const callback =
      (name: string, fn: (...args: never[]) => void, mayFail = true) =>
      (...args: unknown[]): void => {
        const error = this.tick(name, mayFail);
        if (error) {
          const done = args[args.length - 1] as (error: NodeJS.ErrnoException) => void;
          process.nextTick(() => done(error));
          return;
        }
        (fn as (...a: unknown[]) => void)(...args);
      };
    return {
      promises,
      openSync: sync('openSync', base.openSync),
      closeSync: sync('closeSync', base.closeSync, false),
      writeSync: sync('writeSync', base.writeSync) as typeof base.writeSync,
      rmSync: sync('rmSync', base.rmSync),
      write: callback('write', base.write) as unknown as typeof base.write,
      fdatasync: callback('fdatasync', base.fdatasync) as typeof base.fdatasync,
      ftruncate: callback('ftruncate', base.ftruncate) as unknown as typeof base.ftruncate,
      close: callback('close', base.close, false) as typeof base.close,
    };
  }

  private wrapHandle(handle: FileHandle): FileHandle {
    return new Proxy(handle, {
      get: (target, key) => {
        const original = Reflect.get(target, key) as unknown;
        if (typeof original !== 'function') return original;
        const name = String(key);
        if (name === 'close') {
          return () => {
            this.tick('handle.close', false);
            return target.close();
          };
        }
        if (!HANDLE_CALLS.has(name)) return (original as (...a: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          const error = this.tick(`handle.${name}`);
          if (error) return Promise.reject(error);
          return (original as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
  }
}
