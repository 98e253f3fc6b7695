import { fsp as fs } from './storageFs';
import { basename, join } from 'node:path';
import { fsyncDirectory, writeFileAtomic } from './atomicFile';
import { StorageError } from './errors';

/**
 * Turns a Node fs error into the StorageError a caller can act on: a full disk and a permission
 * problem need different advice to the user than a failing device. Errors that already are
 * StorageErrors pass through unchanged.
 */
export function toStorageError(error: unknown, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError('diskFull', `The disk is full: could not ${action}. Free some space; the previous state is intact.`, {
        cause: error,
      });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StorageError('permissionDenied', `Permission denied: could not ${action} (${detail}).`, { cause: error });
    default:
      return new StorageError('ioError', `Could not ${action}: ${detail}`, { cause: error });
  }
}

/** A timestamp that sorts and is safe in a file name on every OS. */
export function fileTimestamp(now: number): string {
  return new Date(now).toISOString().replace(/[:.]/g, '-');
}

/**
 * Moves a damaged file into `<directory>/quarantine/` under a timestamped name, so nothing is
 * ever silently deleted: the user, a support request or the offline tool can still look at it.
 * @returns the path the file now has
 */
export async function quarantineFile(path: string, directory: string, now: number): Promise<string> {
  const quarantineDir = join(directory, 'quarantine');
  await fs.mkdir(quarantineDir, { recursive: true, mode: 0o700 });
  let target = join(quarantineDir, `${basename(path)}.${fileTimestamp(now)}`);
  for (let attempt = 1; await exists(target); attempt++) target = join(quarantineDir, `${basename(path)}.${fileTimestamp(now)}-${attempt}`);
  await fs.rename(path, target);
  await fsyncDirectory(quarantineDir);
  await fsyncDirectory(directory);
  await boundQuarantine(quarantineDir, target);
  return target;
}

/** What quarantine/ may hold per store folder; the oldest files go first, the newest always stays. */
export const QUARANTINE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Keeps a copy of bytes about to be cut from a file (a torn tail) in `<directory>/quarantine/`,
 * named after the file, before the cut: what opening removes stays there to be looked at.
 * @returns the path of the copy
 */
export async function quarantineBytes(path: string, bytes: Uint8Array, directory: string, now: number, suffix: string): Promise<string> {
  const quarantineDir = join(directory, 'quarantine');
  await fs.mkdir(quarantineDir, { recursive: true, mode: 0o700 });
  const stem = `${basename(path)}.${suffix}.${fileTimestamp(now)}`;
  let target = join(quarantineDir, stem);
  for (let attempt = 1; await exists(target); attempt++) target = join(quarantineDir, `${stem}-${attempt}`);
  await writeFileAtomic(target, bytes);
  await boundQuarantine(quarantineDir, target);
  return target;
}

/** Removes the oldest quarantined files until the folder is within `maxBytes`; never `keep`, the newest. */
export async function boundQuarantine(quarantineDir: string, keep: string, maxBytes = QUARANTINE_MAX_BYTES): Promise<void> {
  const entries: { path: string; size: number; mtimeMs: number }[] = [];
  for (const entry of await fs.readdir(quarantineDir)) {
    const path = join(quarantineDir, entry);
    const stat = await fs.stat(path).catch(() => undefined);
    if (stat?.isFile()) entries.push({ path, size: stat.size, mtimeMs: stat.mtimeMs });
  }
  let total = entries.reduce((sum, entry) => sum + entry.size, 0);
  entries.sort((a, b) => a.mtimeMs - b.mtimeMs || a.path.localeCompare(b.path));
  for (const entry of entries) {
    if (total <= maxBytes) break;
    if (entry.path === keep) continue;
    await fs.rm(entry.path, { force: true });
    total -= entry.size;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads a whole file, or undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw toStorageError(error, `read ${path}`);
  }
}
