import { randomBytes } from 'node:crypto';
import { promises as fs, readlinkSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type { Lease } from '../../shared/supervisor/node/leaseFile';
import { isLink, LEASE_FILE, parseLease, unreadableLease } from '../../shared/supervisor/node/leaseFile';
import { fsyncDirectory, writeFileAtomic } from '../storage/atomicFile';

/**
 * The writer lease: `<storage>/queue.lease`, whose holder alone writes the queue, runs the
 * scheduler and serves the socket. It is created exclusively, refreshed by a heartbeat, marked
 * `releasing` while its holder shuts down, and removed on release. A lease whose pid is dead (same
 * host) or whose heartbeat is older than the stale limit is taken over under a small lock
 * directory, so that two clients never both take it.
 *
 * `queue.lease` is a symbolic link to the holder's own file, `queue.lease.<activationId>`, and a
 * heartbeat rewrites only that file. A holder frozen (SIGSTOP, a debugger) between checking that
 * the lease is its own and writing its heartbeat may wake after it was taken over: writing its own
 * file then changes nothing anyone reads, where rewriting `queue.lease` itself would put the
 * replaced holder back over the new one (both would then write the queue). Readers follow the link
 * and see the same JSON as before; a lease written as a plain file (Windows, where links need
 * privileges, or an older Lifeline) is still read, refreshed and taken over. The file's format,
 * and how a reader judges it stale (StalenessObserver), are in src/shared/supervisor/node/leaseFile.ts:
 * a detached supervisor reads the lease too.
 */

/**
 * How long a holder's heartbeat may stand still before its lease is stale: the one default of the
 * queue session (which takes a stale lease over) and the supervisors (which stop jobs without a host).
 */
export const DEFAULT_LEASE_STALE_AFTER_MS = 5_000;
/** Links need privileges on Windows: there the lease is one plain file, rewritten in place. */
const LINKED_LEASE = process.platform !== 'win32';

/** The holder's own lease file, which `queue.lease` links to. */
function ownLeaseFile(storageDir: string, activationId: string): string {
  return join(storageDir, `${LEASE_FILE}.${activationId}`);
}

/** A lease for this process; `socketPath` gets the activation id, so that each holder has its own socket. */
export function newLease(socketPath: (activationId: string) => string): Lease {
  const activationId = randomBytes(12).toString('hex');
  return {
    version: 1,
    pid: process.pid,
    hostname: hostname(),
    activationId,
    heartbeatAt: Date.now(),
    state: 'held',
    socketPath: socketPath(activationId),
    token: randomBytes(32).toString('hex'),
  };
}

/**
 * The lease, undefined when there is none. A link whose file is gone (a holder released, or crashed
 * while releasing, between removing its file and its link) reads as an unreadable, stale lease, so
 * the next contender takes it over: a plain create would fail on the link still there.
 */
export async function readLease(storageDir: string): Promise<Lease | undefined> {
  const path = join(storageDir, LEASE_FILE);
  try {
    return parseLease(await fs.readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return isLink(path) ? unreadableLease : undefined;
    throw error;
  }
}

/** Creates the lease if nobody holds it. True when `lease` is now the lease. */
export async function tryCreateLease(storageDir: string, lease: Lease): Promise<boolean> {
  const path = join(storageDir, LEASE_FILE);
  if (!LINKED_LEASE) return linkCompleteFile(storageDir, lease, path);
  const own = ownLeaseFile(storageDir, lease.activationId);
  // Complete and synced before the link names it: a reader never sees half a lease.
  await writeFileAtomic(own, JSON.stringify(lease));
  try {
    await fs.symlink(basename(own), path);
  } catch (error) {
    await fs.rm(own, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  await fsyncDirectory(storageDir);
  return true;
}

/** The plain-file lease: a complete temp file linked into place, which fails if one exists. */
async function linkCompleteFile(storageDir: string, lease: Lease, path: string): Promise<boolean> {
  const temp = `${path}.${lease.activationId}.tmp`;
  await fs.writeFile(temp, JSON.stringify(lease), { mode: 0o600 });
  const handle = await fs.open(temp, 'r');
  await handle.sync();
  await handle.close();
  try {
    await fs.link(temp, path);
    await fsyncDirectory(storageDir);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/**
 * Replaces the stale lease `stale` by `lease`, under the lock directory `queue.lease.takeover`.
 * False when another process took it first or the holder came back to life (its heartbeat moved).
 */
export async function takeOverLease(storageDir: string, stale: Lease, lease: Lease, lockStaleAfterMs: number): Promise<boolean> {
  const lock = join(storageDir, `${LEASE_FILE}.takeover`);
  try {
    await fs.mkdir(lock, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // A taker that died inside the lock leaves it behind; it only ever holds it for milliseconds.
    const stat = await fs.stat(lock).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > Math.max(2000, lockStaleAfterMs)) await fs.rm(lock, { recursive: true, force: true });
    return false;
  }
  try {
    const current = await readLease(storageDir);
    // Only the very lease judged stale (same activation, same heartbeat) may be replaced.
    if (
      current &&
      (current.activationId !== stale.activationId || current.heartbeatAt !== stale.heartbeatAt || current.state !== stale.state)
    ) {
      return false;
    }
    await fs.rm(join(storageDir, LEASE_FILE), { force: true });
    const taken = await tryCreateLease(storageDir, lease);
    // The replaced holder's own file; if it wakes and writes it again, it removes it itself.
    if (taken && LINKED_LEASE) await fs.rm(ownLeaseFile(storageDir, stale.activationId), { force: true });
    return taken;
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/**
 * Writes our lease's new heartbeat or state. False when the lease is no longer ours: then nothing
 * anyone reads has changed, even if it was taken over while this ran (see the top of this file).
 */
export async function refreshLease(storageDir: string, lease: Lease): Promise<boolean> {
  const path = join(storageDir, LEASE_FILE);
  const current = await readLease(storageDir);
  if (!current || current.activationId !== lease.activationId) return false;
  if (!LINKED_LEASE || !isLink(path)) {
    await writeFileAtomic(path, JSON.stringify(lease));
    return true;
  }
  const own = ownLeaseFile(storageDir, lease.activationId);
  await writeFileAtomic(own, JSON.stringify(lease));
  // Taken over between the check and the write: the link names another file now.
  if ((await readLease(storageDir))?.activationId === lease.activationId) return true;
  await fs.rm(own, { force: true });
  return false;
}

/** Removes the lease if it is still ours. */
export async function removeLease(storageDir: string, lease: Lease): Promise<void> {
  const path = join(storageDir, LEASE_FILE);
  const current = await readLease(storageDir);
  if (current?.activationId !== lease.activationId) return;
  if (LINKED_LEASE && isLink(path)) {
    const own = ownLeaseFile(storageDir, lease.activationId);
    // The file first: a link left without it reads as a stale lease, never as ours.
    await fs.rm(own, { force: true });
    // Then the link, only while it still names our file: checked and removed in one turn.
    try {
      if (readlinkSync(path) === basename(own)) unlinkSync(path);
    } catch {
      // Already gone, or replaced by a new holder's: not ours to remove.
    }
  } else {
    await fs.rm(path, { force: true });
  }
  await fsyncDirectory(storageDir);
}
