import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, constants, fstatSync, linkSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { JobError } from './jobErrors';

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
 * mode 0600) when there is none. A file others could read is narrowed to 0600 first. The folder
 * must exist. Throws a JobError when the file holds no valid secret: replacing it would leave
 * running supervisors unreachable, and they still end up followed through their journals.
 */
export function loadSupervisorSecret(jobsDir: string): Buffer {
  const path = join(jobsDir, SUPERVISOR_SECRET_FILE);
  // Written aside and linked into place: a host starting at the same moment sees the whole secret or none.
  const temp = join(jobsDir, `.${SUPERVISOR_SECRET_FILE}.${process.pid}.${newNonce().slice(0, 8)}.tmp`);
  try {
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, `${newNonce()}\n`);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    if (process.platform !== 'win32' && (fstatSync(fd).mode & 0o077) !== 0) chmodSync(path, 0o600);
    const secret = parseSecret(readFileSync(fd, 'utf8'));
    if (!secret) throw new JobError('notConnected', `${path} does not hold a supervisor secret; remove it to make a new one (running jobs are then followed through their journals).`);
    return secret;
  } finally {
    closeSync(fd);
  }
}
