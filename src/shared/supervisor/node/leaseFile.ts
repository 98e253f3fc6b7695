import { lstatSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as z from 'zod/mini';

/**
 * The format of the queue's writer lease, `<storage>/queue.lease`, and how a reader judges it:
 * what a supervisor needs to tell whether any host still holds the queue (src/supervisor/hostWatch.ts).
 * Taking, refreshing, fencing and releasing it are the host's (src/core/session/lease.ts), which
 * reads the file with these same definitions.
 */
export const leaseSchema = z.object({
  version: z.literal(1),
  pid: z.int(),
  hostname: z.string(),
  activationId: z.string(),
  heartbeatAt: z.number(),
  state: z.enum(['held', 'releasing']),
  socketPath: z.string(),
  token: z.string(),
});
export type Lease = z.infer<typeof leaseSchema>;

export const LEASE_FILE = 'queue.lease';
const UNREADABLE = 'unreadable';

/** What a lease file that cannot be read stands for: a stale lease with no holder to contact. */
export const unreadableLease: Lease = {
  version: 1,
  pid: -1,
  hostname: '',
  activationId: UNREADABLE,
  heartbeatAt: 0,
  state: 'held',
  socketPath: '',
  token: '',
};

/** The lease in a lease file's text; one that does not parse is treated as a stale one with no holder to contact. */
export function parseLease(text: string): Lease {
  try {
    const parsed = leaseSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : unreadableLease;
  } catch {
    return unreadableLease;
  }
}

/**
 * The lease in `storageDir` now, undefined when there is none. Synchronous, for the host's write
 * fence. `queue.lease` is a link to its holder's own file; a link whose file is gone (a holder that
 * released, or crashed while releasing) reads as unreadable, hence stale.
 */
export function readLeaseSync(storageDir: string): Lease | undefined {
  const path = join(storageDir, LEASE_FILE);
  try {
    return parseLease(readFileSync(path, 'utf8'));
  } catch {
    return isLink(path) ? unreadableLease : undefined;
  }
}

/** Whether `path` is a symbolic link (dangling or not). */
export function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
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
