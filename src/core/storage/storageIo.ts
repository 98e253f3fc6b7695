import { fsp as fs } from './storageFs';
import { basename, join } from 'node:path';
import { fsyncDirectory } from './atomicFile';
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
  return target;
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
