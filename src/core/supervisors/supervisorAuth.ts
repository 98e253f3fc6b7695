import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { newNonce, parseSecret } from '../../shared/supervisor/node/handshakeProof';
import { JobError } from '../queue/jobErrors';

/**
 * The host's half of the handshake's secret (the handshake itself, which both ends run, is in
 * src/shared/supervisor/handshake.ts). Both ends know one secret per jobs folder. The secret
 * reaches a supervisor on its stdin at spawn (never its command line or environment, so neither
 * `ps` nor a stage process sees it) and stays in `<jobsDir>/supervisor.key`, mode 0600, where the
 * next host finds it to re-adopt running supervisors after a reload or a crash.
 */

/** The secret's file in the jobs folder: inside the workspace's private storage folder. */
export const SUPERVISOR_SECRET_FILE = 'supervisor.key';

/**
 * The jobs folder's secret: read from `<jobsDir>/supervisor.key`, or created there (exclusively,
 * mode 0600, synced with its folder) when there is none. A file others could read is narrowed to
 * 0600 first. The folder must exist.
 *
 * A file that holds no valid secret (a power cut before its data reached the disk, or damage) is
 * moved aside, never deleted, and a new secret takes its place, so jobs can still run: the
 * supervisors that knew the old one keep running and are followed through their journals (a
 * cancel then goes straight to their process groups). `onReplaced` says what happened.
 */
export function loadSupervisorSecret(jobsDir: string, onReplaced?: (detail: string) => void): Buffer {
  const path = join(jobsDir, SUPERVISOR_SECRET_FILE);
  for (let attempt = 0; ; attempt++) {
    createSecretFile(jobsDir, path);
    const { secret, inode } = readSecretFile(path);
    if (secret) return secret;
    if (attempt > 1) throw new JobError('notConnected', `${path} does not hold a supervisor secret, even after it was made anew.`);
    // Only the file read is moved: another host may have replaced it meanwhile with a good one.
    if (lstatSync(path, { throwIfNoEntry: false })?.ino !== inode) continue;
    const aside = `${path}.damaged-${Date.now()}`;
    try {
      renameSync(path, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    onReplaced?.(
      `${path} held no valid supervisor secret; it was moved to ${aside} and a new one made (supervisors started before follow their jobs through their journals only).`,
    );
  }
}

function createSecretFile(jobsDir: string, path: string): void {
  // Written aside, synced, and linked into place: a host starting at the same moment sees the
  // whole secret or none, and a power cut cannot leave the name pointing at an empty file.
  const temp = join(jobsDir, `.${SUPERVISOR_SECRET_FILE}.${process.pid}.${newNonce().slice(0, 8)}.tmp`);
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, `${newNonce()}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, path);
    syncFolder(jobsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

function readSecretFile(path: string): { readonly secret: Buffer | undefined; readonly inode: number } {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    const stat = fstatSync(fd);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { secret: parseSecret(readFileSync(fd, 'utf8')), inode: stat.ino };
  } finally {
    closeSync(fd);
  }
}

/** A new name is on disk only once its folder is synced (Linux); Windows cannot open a folder for it. */
function syncFolder(folder: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(folder, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
