import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Lease } from '../../shared/supervisor/node/leaseFile';
import { LEASE_FILE, parseLease } from '../../shared/supervisor/node/leaseFile';
import { fsyncDirectory, writeFileAtomic } from '../storage/atomicFile';

/**
 * The writer lease: one file, `<storage>/queue.lease`, whose holder alone writes the queue, runs
 * the scheduler and serves the socket. It is created exclusively (link of a complete temp file, so
 * a reader never sees half a lease), refreshed by a heartbeat, marked `releasing` while its holder
 * shuts down, and removed on release. A lease whose pid is dead (same host) or whose heartbeat is
 * older than the stale limit is taken over under a small lock directory, so that two clients
 * never both take it. The file's format, and how a reader judges it stale (StalenessObserver), are
 * in src/shared/supervisor/node/leaseFile.ts: a detached supervisor reads the lease too.
 */

/** A lease for this process; `socketPath` gets the activation id, so that each holder has its own socket. */
export function newLease(socketPath: (activationId: string) => string): Lease {
  const activationId = randomBytes(12).toString('hex');
  return { version: 1, pid: process.pid, hostname: hostname(), activationId, heartbeatAt: Date.now(), state: 'held', socketPath: socketPath(activationId), token: randomBytes(32).toString('hex') };
}

export async function readLease(storageDir: string): Promise<Lease | undefined> {
  try {
    return parseLease(await fs.readFile(join(storageDir, LEASE_FILE), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Creates the lease if nobody holds it. True when `lease` is now the lease. */
export async function tryCreateLease(storageDir: string, lease: Lease): Promise<boolean> {
  const path = join(storageDir, LEASE_FILE);
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
    if (current && (current.activationId !== stale.activationId || current.heartbeatAt !== stale.heartbeatAt || current.state !== stale.state)) return false;
    await fs.rm(join(storageDir, LEASE_FILE), { force: true });
    return await tryCreateLease(storageDir, lease);
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/** Rewrites our lease with a new heartbeat or state. False when the lease is no longer ours. */
export async function refreshLease(storageDir: string, lease: Lease): Promise<boolean> {
  const current = await readLease(storageDir);
  if (!current || current.activationId !== lease.activationId) return false;
  await writeFileAtomic(join(storageDir, LEASE_FILE), JSON.stringify(lease));
  return true;
}

/** Removes the lease if it is still ours. */
export async function removeLease(storageDir: string, lease: Lease): Promise<void> {
  const current = await readLease(storageDir);
  if (current?.activationId !== lease.activationId) return;
  await fs.rm(join(storageDir, LEASE_FILE), { force: true });
  await fsyncDirectory(dirname(join(storageDir, LEASE_FILE)));
}
