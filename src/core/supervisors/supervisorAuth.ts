import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, constants, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { JobError } from '../queue/jobErrors';

/**
 * The handshake that opens every connection between a host and a supervisor (issue 14, item 11).
 * Both ends know one secret per jobs folder; each sends a fresh nonce and proves the secret with
 * an HMAC over both nonces and its own role, so neither a process that only found a socket
 * (a forged host) nor one listening where a journal points (a forged supervisor) is accepted,
 * and a proof seen on one connection is worth nothing on the next.
 *
 *   host → supervisor   { op: 'hello', protocol, nonce: Nh }
 *   supervisor → host   { ev: 'challenge', protocol, nonce: Ns, proof: HMAC(secret, supervisor|Nh|Ns) }
 *   host → supervisor   { op: 'auth', proof: HMAC(secret, host|Nh|Ns) }
 *   supervisor → host   { ev: 'hello', protocol, pid, job }     (then the protocol of supervisorProtocol.ts)
 *
 * The secret reaches a supervisor on its stdin at spawn (never its command line or environment,
 * so neither `ps` nor a stage process sees it) and stays in `<jobsDir>/supervisor.key`, mode 0600,
 * where the next host finds it to re-adopt running supervisors after a reload or a crash.
 */

/** The secret's file in the jobs folder: inside the workspace's private storage folder. */
export const SUPERVISOR_SECRET_FILE = 'supervisor.key';

/** A connection that has not finished the handshake by then is closed. */
export const HANDSHAKE_TIMEOUT_MS = 2000;
/** Handshake lines are a nonce and a proof: anything longer before it is done ends the connection. */
export const MAX_HANDSHAKE_LINE_CHARS = 4 * 1024;
/** One message after the handshake: a run request with its stages fits many times over. */
export const MAX_SUPERVISOR_LINE_CHARS = 8 * 1024 * 1024;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
export const handshakeHelloSchema = z.object({ op: z.literal('hello'), protocol: z.number().int(), nonce: hex64 });
export const handshakeAuthSchema = z.object({ op: z.literal('auth'), proof: hex64 });
export const challengeSchema = z.object({ ev: z.literal('challenge'), protocol: z.number().int(), nonce: hex64, proof: hex64 });
export type Challenge = z.infer<typeof challengeSchema>;

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

/** What `role` sends to prove the secret on the connection with these two nonces. */
export function handshakeProof(secret: Buffer, role: 'host' | 'supervisor', hostNonce: string, supervisorNonce: string): string {
  return createHmac('sha256', secret).update(`lifeline-supervisor-handshake\0${role}\0${hostNonce}\0${supervisorNonce}`).digest('hex');
}

/** Compares in constant time; a proof of the wrong length is simply wrong. */
export function proofMatches(secret: Buffer, role: 'host' | 'supervisor', hostNonce: string, supervisorNonce: string, given: string): boolean {
  const expected = Buffer.from(handshakeProof(secret, role, hostNonce, supervisorNonce), 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The secret from the text a supervisor read on its stdin; undefined unless it is 64 hex digits. */
export function parseSecret(text: string): Buffer | undefined {
  const trimmed = text.trim();
  return hex64.safeParse(trimmed).success ? Buffer.from(trimmed, 'hex') : undefined;
}

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
    onReplaced?.(`${path} held no valid supervisor secret; it was moved to ${aside} and a new one made (supervisors started before follow their jobs through their journals only).`);
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
