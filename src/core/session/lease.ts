import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { promises as fs, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { fsyncDirectory, writeFileAtomic } from '../storage/atomicFile';

/**
 * The writer lease: one file, `<storage>/queue.lease`, whose holder alone writes the queue, runs
 * the scheduler and serves the socket. It is created exclusively (link of a complete temp file, so
 * a reader never sees half a lease), refreshed by a heartbeat, marked `releasing` while its holder
 * shuts down, and removed on release. A lease whose pid is dead (same host) or whose heartbeat is
 * older than the stale limit is taken over under a small lock directory, so that two clients
 * never both take it.
 */
export const leaseSchema = z.object({
  version: z.literal(1),
  pid: z.number().int(),
  hostname: z.string(),
  activationId: z.string(),
  heartbeatAt: z.number(),
  state: z.enum(['held', 'releasing']),
  socketPath: z.string(),
  token: z.string(),
});
export type Lease = z.infer<typeof leaseSchema>;

export const LEASE_FILE = 'queue.lease';
/**
 * How long a holder's heartbeat may stand still before its lease is stale: the one default of the
 * queue session (which takes a stale lease over) and the supervisors (which stop jobs without a host).
 */
export const DEFAULT_LEASE_STALE_AFTER_MS = 5_000;
const UNREADABLE = 'unreadable';

/** A lease for this process; `socketPath` gets the activation id, so that each holder has its own socket. */
export function newLease(socketPath: (activationId: string) => string): Lease {
  const activationId = randomBytes(12).toString('hex');
  return { version: 1, pid: process.pid, hostname: hostname(), activationId, heartbeatAt: Date.now(), state: 'held', socketPath: socketPath(activationId), token: randomBytes(32).toString('hex') };
}

const unreadableLease: Lease = { version: 1, pid: -1, hostname: '', activationId: UNREADABLE, heartbeatAt: 0, state: 'held', socketPath: '', token: '' };

function parseLease(text: string): Lease {
  try {
    const parsed = leaseSchema.safeParse(JSON.parse(text));
    // An unreadable lease is treated as a stale one with no holder to contact.
    return parsed.success ? parsed.data : unreadableLease;
  } catch {
    return unreadableLease;
  }
}

export async function readLease(storageDir: string): Promise<Lease | undefined> {
  try {
    return parseLease(await fs.readFile(join(storageDir, LEASE_FILE), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** For the write fence, which must decide before a commit goes out. */
export function readLeaseSync(storageDir: string): Lease | undefined {
  try {
    return parseLease(readFileSync(join(storageDir, LEASE_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Judges whether a lease is stale: at once when its pid is dead on this host (or the file is
 * unreadable), otherwise when its heartbeat has not moved for `staleAfterMs` of this process's own
 * monotonic time. Comparing wall-clock heartbeats across processes would call a live holder stale
 * after a clock jump or a sleep of the machine, when every process wakes with an old heartbeat.
 */
export class StalenessObserver {
  private seen: { activationId: string; heartbeatAt: number; since: number } | undefined;

  constructor(private readonly staleAfterMs: number) {}

  isStale(lease: Lease, now = performance.now()): boolean {
    if (lease.activationId === UNREADABLE) return true;
    if (lease.hostname === hostname() && !pidAlive(lease.pid)) return true;
    const seen = this.seen;
    if (!seen || seen.activationId !== lease.activationId || seen.heartbeatAt !== lease.heartbeatAt) {
      this.seen = { activationId: lease.activationId, heartbeatAt: lease.heartbeatAt, since: now };
      return false;
    }
    return now - seen.since > this.staleAfterMs;
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
