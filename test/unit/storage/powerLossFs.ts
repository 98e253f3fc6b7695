import * as nodeFs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { StorageFs } from '../../../src/core/storage/storageFs';
import type { NamespaceOp } from './powerLossFsHelpers';
import { fileSize, parseFlags, readRange, undo } from './powerLossFsHelpers';

/** What a power cut tears files into: the page size of the page cache. */
export const PAGE_SIZE = 4096;

/** Thrown at every call of a process whose power went off (until `reset`, the next boot). */
export class PowerOffError extends Error {
  readonly code = 'EIO';
  constructor(call: string) {
    super(`power is off (${call})`);
  }
}

/** A file the layer has seen written since its last sync: its durable pages and length, kept apart. */
interface FileState {
  /** Where it is now; undefined once unlinked. */
  path: string | undefined;
  /** The durable length; undefined while the file holds no unsynced change. */
  durableLength: number | undefined;
  /** Durable content of every page changed since the last sync (empty beyond the durable length). */
  readonly saved: Map<number, Buffer>;
}

export interface CutReport {
  /** Files whose unsynced writes were dropped or torn. */
  readonly files: number;
  /** Pages of unsynced writes that survived the cut (torn in). */
  readonly pagesKept: number;
  readonly pagesDropped: number;
  /** Namespace changes undone (create, mkdir, rename, unlink). */
  readonly undone: number;
}

/**
 * A file-system layer for the stores (installStorageFs) that simulates power loss in-process, the
 * model of SQLite's crash test and of LazyFS. Writes go through to the real files, but the layer
 * remembers each file's durable content as of its last fsync/fdatasync (copy-on-first-write per
 * 4 KiB page) and each create, rename, unlink and mkdir until its directory is fsynced. `cut`
 * puts every file back to its durable content plus a random subset of its unsynced pages (torn),
 * undoes every namespace change not made durable, and from then on refuses every call (the
 * process is dead) until `reset` (the next boot).
 *
 * Not modelled: reordering within one synced file (a sync makes everything before it durable),
 * a disk that lies about syncs, directory removals (durable at once), writes after an unlink.
 */
export class PowerLossFs implements StorageFs {
  /** File calls so far (every call counts, reads too). */
  calls = 0;
  /** Power cuts made so far. */
  cutsMade = 0;
  private dead = false;
  private cutAt: { call: number; random: () => number } | undefined;
  private cutDone: Promise<CutReport> | undefined;
  private readonly files = new Map<string, FileState>();
  /** Open descriptors: the file or directory each is on, and its FileHandle when promises.open made it. */
  private readonly fds = new Map<number, { file?: FileState; directory?: string; handle?: FileHandle }>();
  private pending: NamespaceOp[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  get isDead(): boolean {
    return this.dead;
  }

  /** Cuts the power when call number `call` (counted from 1 over the layer's life) is made. */
  cutAtCall(call: number, random: () => number): void {
    this.cutAt = { call, random };
  }

  /** Resolves once an armed or begun cut has restored the files; undefined when none has begun. */
  get whenCut(): Promise<CutReport> | undefined {
    return this.cutDone;
  }

  /** Cuts the power now: the process is dead at once, the files are restored once calls in flight settle. */
  cut(random: () => number): Promise<CutReport> {
    if (!this.cutDone) {
      this.dead = true;
      this.cutsMade++;
      this.cutAt = undefined;
      this.cutDone = this.restore(random);
    }
    return this.cutDone;
  }

  /** The next boot: alive, and whatever is on disk now is durable. */
  reset(): void {
    this.dead = false;
    this.cutAt = undefined;
    this.cutDone = undefined;
    this.files.clear();
    this.fds.clear();
    this.pending = [];
  }

  // ---- model ----

  private enter(call: string): void {
    if (this.dead) throw new PowerOffError(call);
    this.calls++;
    if (this.cutAt && this.calls >= this.cutAt.call) {
      void this.cut(this.cutAt.random);
      throw new PowerOffError(call);
    }
  }

  private state(path: string): FileState {
    const key = resolve(path);
    let file = this.files.get(key);
    if (!file) {
      file = { path: key, durableLength: undefined, saved: new Map() };
      this.files.set(key, file);
    }
    return file;
  }

  /** Before bytes [start, end) of `file` change: keeps the durable content of each page not kept yet. */
  private touch(file: FileState, start: number, end: number): void {
    if (file.path === undefined || end <= start) return;
    const size = fileSize(file.path);
    file.durableLength ??= size;
    const durableLength = file.durableLength;
    // Bytes between the old end and a write past it become zeros: their pages change too.
    const from = Math.floor(Math.min(start, size) / PAGE_SIZE);
    const to = Math.ceil(end / PAGE_SIZE);
    for (let page = from; page < to; page++) {
      if (file.saved.has(page)) continue;
      const pageStart = page * PAGE_SIZE;
      const length = Math.max(0, Math.min(PAGE_SIZE, durableLength - pageStart, size - pageStart));
      file.saved.set(page, readRange(file.path, pageStart, length));
    }
  }

  private touchAll(file: FileState, newLength: number): void {
    if (file.path === undefined) return;
    this.touch(file, Math.min(newLength, fileSize(file.path)), Math.max(newLength, fileSize(file.path)));
  }

  private synced(file: FileState): void {
    file.durableLength = undefined;
    file.saved.clear();
  }

  private syncedDirectory(directory: string): void {
    for (const op of this.pending) op.dirs.delete(directory);
    this.pending = this.pending.filter((op) => op.dirs.size > 0);
  }

  /** The content `file` would have after a cut that keeps none of its unsynced pages. */
  private durableContent(file: FileState): Buffer {
    const current = nodeFs.readFileSync(file.path as string);
    if (file.durableLength === undefined) return current;
    const content = Buffer.alloc(file.durableLength);
    current.copy(content, 0, 0, Math.min(current.length, content.length));
    for (const [page, bytes] of file.saved) {
      const start = page * PAGE_SIZE;
      if (start >= content.length) continue;
      content.fill(0, start, Math.min(content.length, start + PAGE_SIZE));
      content.set(bytes.subarray(0, content.length - start), start);
    }
    return content;
  }

  private created(path: string): void {
    const key = resolve(path);
    const file = this.state(key);
    file.durableLength = 0;
    file.saved.clear();
    this.pending.push({ kind: 'create', path: key, dirs: new Set([dirname(key)]) });
  }

  private async restore(random: () => number): Promise<CutReport> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    // Closed here, since the dead process can close nothing; a FileHandle through its own close,
    // so that it never closes its number again (by then another file's) when collected.
    for (const [fd, entry] of this.fds) {
      try {
        if (entry.handle) await entry.handle.close();
        else nodeFs.closeSync(fd);
      } catch {
        // closed already
      }
    }
    this.fds.clear();
    let files = 0;
    let pagesKept = 0;
    let pagesDropped = 0;
    for (const file of this.files.values()) {
      if (file.path === undefined || file.durableLength === undefined || !nodeFs.existsSync(file.path)) continue;
      files++;
      const current = nodeFs.readFileSync(file.path);
      const torn = random() < 0.6;
      const length = torn && random() < 0.5 ? current.length : file.durableLength;
      const content = Buffer.alloc(length);
      current.copy(content, 0, 0, Math.min(length, current.length));
      for (const [page, bytes] of file.saved) {
        const start = page * PAGE_SIZE;
        if (start >= length) continue;
        if (torn && random() < 0.5) {
          pagesKept++;
          continue; // this page of the unsynced write reached the disk
        }
        pagesDropped++;
        content.fill(0, start, Math.min(length, start + PAGE_SIZE));
        Buffer.from(bytes.subarray(0, Math.max(0, length - start))).copy(content, start);
      }
      nodeFs.writeFileSync(file.path, content);
    }
    const undone = this.pending.length;
    for (const op of this.pending.reverse()) undo(op);
    this.pending = [];
    return { files, pagesKept, pagesDropped, undone };
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  /** Runs `work` as one counted call: rejects at once when the power is (or goes) off. */
  private call<T>(name: string, work: () => Promise<T>): Promise<T> {
    let promise: Promise<T>;
    try {
      this.enter(name);
      promise = work();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.track(promise);
  }

  private fdState(fd: number): FileState | undefined {
    return this.fds.get(fd)?.file;
  }

  /** Models the open of `path` with `flags` (create, truncate) before the real open runs. */
  private beforeOpen(path: string, flags: string | number | undefined): void {
    const { create, truncate } = parseFlags(flags);
    const exists = nodeFs.existsSync(path);
    if (!exists && create) this.created(path);
    else if (exists && truncate && !nodeFs.statSync(path).isDirectory()) this.touchAll(this.state(path), 0);
  }

  private opened(path: string, fd: number, handle?: FileHandle): void {
    const key = resolve(path);
    this.fds.set(fd, nodeFs.fstatSync(fd).isDirectory() ? { directory: key, handle } : { file: this.state(key), handle });
  }

  // ---- the fd-level calls of journal.ts ----

  readonly openSync = ((path: nodeFs.PathLike, flags?: nodeFs.OpenMode, mode?: nodeFs.Mode | null) => {
    this.enter('openSync');
    this.beforeOpen(String(path), flags);
    const fd = nodeFs.openSync(path, flags ?? 'r', mode);
    this.opened(String(path), fd);
    return fd;
  }) as typeof nodeFs.openSync;

  readonly writeSync = ((fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
    this.enter('writeSync');
    const file = this.fdState(fd);
    if (file) this.touch(file, position, position + length);
    return nodeFs.writeSync(fd, buffer, offset, length, position);
  }) as typeof nodeFs.writeSync;

  readonly closeSync = ((fd: number) => {
    this.enter('closeSync');
    this.fds.delete(fd);
    nodeFs.closeSync(fd);
  }) as typeof nodeFs.closeSync;

  readonly rmSync = ((path: nodeFs.PathLike, options?: nodeFs.RmOptions) => {
    this.enter('rmSync');
    this.beforeRemove(String(path));
    nodeFs.rmSync(path, options);
  }) as typeof nodeFs.rmSync;

  readonly write = ((fd: number, buffer: Uint8Array, offset: number, length: number, position: number, callback: WriteCallback) => {
    this.callback('write', callback, (done) => {
      const file = this.fdState(fd);
      if (file) this.touch(file, position, position + length);
      nodeFs.write(fd, buffer, offset, length, position, done);
    });
  }) as unknown as typeof nodeFs.write;

  readonly fdatasync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    this.callback('fdatasync', callback, (done) => {
      this.syncFd(fd);
      process.nextTick(() => done(null));
    });
  }) as typeof nodeFs.fdatasync;

  readonly ftruncate = ((fd: number, length: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    this.callback('ftruncate', callback, (done) => {
      const file = this.fdState(fd);
      if (file) this.touchAll(file, length);
      nodeFs.ftruncate(fd, length, done);
    });
  }) as typeof nodeFs.ftruncate;

  readonly close = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    this.callback('close', callback, (done) => {
      this.fds.delete(fd);
      nodeFs.close(fd, done);
    });
  }) as typeof nodeFs.close;

  /**
   * A sync made at the call, in the model only (what survives a cut is the model's business; a
   * real fsync, milliseconds on a real disk, would only slow the campaign). The cut waits for
   * calls in flight, so a sync begun before it always completes first, and writes made after the
   * call are not covered.
   */
  private syncFd(fd: number): void {
    const entry = this.fds.get(fd);
    if (entry?.directory !== undefined) this.syncedDirectory(entry.directory);
    else if (entry?.file) this.synced(entry.file);
  }

  private callback<A extends unknown[]>(
    name: string,
    callback: (error: NodeJS.ErrnoException | null, ...rest: A) => void,
    work: (done: (error: NodeJS.ErrnoException | null, ...rest: A) => void) => void,
  ): void {
    try {
      this.enter(name);
    } catch (error) {
      process.nextTick(() => (callback as unknown as (error: unknown) => void)(error));
      return;
    }
    let settle: () => void = () => undefined;
    this.track(new Promise<void>((resolve) => (settle = resolve)));
    work((error, ...rest) => {
      settle();
      callback(error, ...rest);
    });
  }

  private beforeRemove(path: string): void {
    const key = resolve(path);
    if (!nodeFs.existsSync(key) || nodeFs.lstatSync(key).isDirectory()) return; // a directory removal is durable at once
    const file = this.state(key);
    this.pending.push({ kind: 'unlink', path: key, content: this.durableContent(file), dirs: new Set([dirname(key)]) });
    this.files.delete(key);
    file.path = undefined;
  }

  // ---- fs.promises ----

  readonly promises: typeof nodeFs.promises = this.makePromises();

  private makePromises(): typeof nodeFs.promises {
    const real = nodeFs.promises;
    const passThrough = ['access', 'lstat', 'readFile', 'readdir', 'realpath', 'stat', 'chmod'] as const;
    const api: Record<string, unknown> = {};
    for (const name of passThrough) {
      api[name] = (...args: unknown[]) => this.call(name, () => (real[name] as (...a: unknown[]) => Promise<unknown>)(...args));
    }
    api.open = (path: string, flags?: string | number, mode?: number) =>
      this.call('open', async () => {
        this.beforeOpen(path, flags);
        const handle = await real.open(path, flags, mode);
        this.opened(path, handle.fd, handle);
        return this.wrapHandle(handle);
      });
    api.writeFile = (path: string, data: string | Uint8Array, options?: unknown) =>
      this.call('writeFile', () => {
        this.beforeOpen(path, 'w');
        this.touch(this.state(path), 0, Buffer.byteLength(data));
        return real.writeFile(path, data, options as nodeFs.WriteFileOptions);
      });
    api.appendFile = (path: string, data: string | Uint8Array, options?: unknown) =>
      this.call('appendFile', () => {
        this.beforeOpen(path, 'a');
        const size = fileSize(resolve(path));
        this.touch(this.state(path), size, size + Buffer.byteLength(data));
        return real.appendFile(path, data, options as nodeFs.WriteFileOptions);
      });
    api.mkdir = (path: string, options?: nodeFs.MakeDirectoryOptions) =>
      this.call('mkdir', async () => {
        const missing: string[] = [];
        for (let dir = resolve(path); !nodeFs.existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
        const result = await real.mkdir(path, options);
        for (const dir of missing) this.pending.push({ kind: 'mkdir', path: dir, dirs: new Set([dirname(dir)]) });
        return result;
      });
    api.rename = (from: string, to: string) =>
      this.call('rename', async () => {
        const source = resolve(from);
        const target = resolve(to);
        const replacedFile = nodeFs.existsSync(target) ? this.state(target) : undefined;
        const replaced = replacedFile ? this.durableContent(replacedFile) : undefined;
        await real.rename(source, target);
        if (replacedFile) replacedFile.path = undefined;
        const moved = this.files.get(source);
        this.files.delete(source);
        if (moved) {
          moved.path = target;
          this.files.set(target, moved);
        } else this.files.delete(target);
        this.pending.push({ kind: 'rename', from: source, to: target, replaced, dirs: new Set([dirname(source), dirname(target)]) });
      });
    const remove = (name: 'rm' | 'unlink' | 'rmdir') => (path: string, options?: nodeFs.RmOptions) =>
      this.call(name, async () => {
        if (name !== 'rmdir') this.beforeRemove(path);
        return (real[name] as (path: string, options?: nodeFs.RmOptions) => Promise<void>)(path, options);
      });
    api.rm = remove('rm');
    api.unlink = remove('unlink');
    api.rmdir = remove('rmdir');
    return new Proxy(api, {
      get: (target, key) => {
        if (typeof key !== 'string') return undefined;
        if (key in target) return target[key];
        // A call the model does not know would change the disk behind its back.
        throw new Error(`PowerLossFs does not model fs.promises.${String(key)}`);
      },
    }) as unknown as typeof nodeFs.promises;
  }

  private wrapHandle(handle: FileHandle): FileHandle {
    const fd = handle.fd;
    const file = (): FileState | undefined => this.fdState(fd);
    const wrapped = {
      fd,
      write: (buffer: Uint8Array, offset?: number, length?: number, position?: number | null) =>
        this.call('handle.write', () => {
          const state = file();
          const count = length ?? buffer.length - (offset ?? 0);
          if (state?.path !== undefined) {
            if (typeof position === 'number') this.touch(state, position, position + count);
            else this.touchAll(state, fileSize(state.path) + count); // at the file position: keep every page
          }
          return handle.write(buffer, offset, length, position);
        }),
      writeFile: (data: string | Uint8Array) =>
        this.call('handle.writeFile', () => {
          const state = file();
          if (state?.path !== undefined) this.touchAll(state, fileSize(state.path) + Buffer.byteLength(data));
          return handle.writeFile(data);
        }),
      read: (...args: Parameters<FileHandle['read']>) =>
        this.call('handle.read', () => (handle.read as (...a: unknown[]) => Promise<unknown>)(...args)),
      readFile: (...args: Parameters<FileHandle['readFile']>) => this.call('handle.readFile', () => handle.readFile(...args)),
      stat: () => this.call('handle.stat', () => handle.stat()),
      sync: () =>
        this.call('handle.sync', () => {
          this.syncFd(fd);
          return Promise.resolve();
        }),
      datasync: () =>
        this.call('handle.datasync', () => {
          this.syncFd(fd);
          return Promise.resolve();
        }),
      truncate: (length = 0) =>
        this.call('handle.truncate', () => {
          const state = file();
          if (state) this.touchAll(state, length);
          return handle.truncate(length);
        }),
      close: () =>
        this.call('handle.close', () => {
          this.fds.delete(fd);
          return handle.close();
        }),
    };
    return new Proxy(wrapped, {
      get: (target, key) => {
        if (typeof key !== 'string' || key === 'then') return undefined; // not a thenable
        if (key in target) return target[key as keyof typeof target];
        throw new Error(`PowerLossFs does not model FileHandle.${String(key)}`);
      },
    }) as unknown as FileHandle;
  }
}

type WriteCallback = (error: NodeJS.ErrnoException | null, written: number, buffer: Uint8Array) => void;
