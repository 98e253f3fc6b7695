import { fsp as fs } from './storageFs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';

/** What `removeInside` did: `outside` means the path resolves out of the folder and was left alone. */
export type RemoveOutcome = 'removed' | 'missing' | 'outside';

/** True when `child` is `folder` or lies below it; both must be real (resolved) absolute paths. */
export function isWithin(folder: string, child: string): boolean {
  const rel = relative(folder, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The real path of `path`, or undefined when it does not exist. */
export async function realPathOf(path: string): Promise<string | undefined> {
  try {
    return await fs.realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * Removes `path` only when it lies strictly inside the real folder `realFolder`, judged on real
 * paths: its parent is resolved with `realpath` (a link anywhere above it is followed, then the
 * result checked), and the target itself is looked at with `lstat`, never followed, so a symbolic
 * link is removed as the link and its target stays. A lexical check alone is not enough: with
 * `link -> ../outside`, `link/victim.txt` names a file outside (docs/security.md, deletion).
 * A folder is removed recursively; Node's recursive removal does not follow links inside it.
 * A link swapped in between the check and the removal by a process of the same user is not
 * guarded against (see docs/security.md).
 */
export async function removeInside(realFolder: string, path: string): Promise<RemoveOutcome> {
  const name = basename(path);
  if (name === '' || name === '.' || name === '..') return 'outside';
  const parent = await realPathOf(dirname(path));
  if (parent === undefined) return 'missing';
  if (!isWithin(realFolder, parent)) return 'outside';
  const target = join(parent, name);
  if (target === realFolder || !isWithin(realFolder, target)) return 'outside';
  let stat;
  try {
    stat = await fs.lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  if (stat.isDirectory()) await fs.rm(target, { recursive: true, force: true });
  else await fs.unlink(target);
  return 'removed';
}

/**
 * Removes the file `name` of Lifeline's own folder `folder` (a job's journal, log or checkpoint):
 * a plain name only, a regular file or a link (the link itself), never a folder or what a link
 * points to. Returns false when there was nothing to remove.
 */
export async function removeOwnFile(folder: string, name: string): Promise<boolean> {
  if (name !== basename(name) || name === '.' || name === '..' || name === '') throw new Error(`not a plain file name: ${name}`);
  const path = join(folder, name);
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (stat.isDirectory()) throw new Error(`${path} is a folder, not one of Lifeline's files`);
  await fs.unlink(path);
  return true;
}
