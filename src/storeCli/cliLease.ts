import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  newLease,
  readLease,
  refreshLease,
  removeLease,
  takeOverLease,
  tryCreateLease,
  DEFAULT_LEASE_STALE_AFTER_MS,
} from '../core/session/lease';
import { socketPathFor } from '../core/session/socketPath';
import type { Lease } from '../shared/supervisor/node/leaseFile';
import { LEASE_FILE, StalenessObserver } from '../shared/supervisor/node/leaseFile';
import { CliError } from './cliErrors';

const HEARTBEAT_MS = 1000;

/** Who holds a storage folder's lease, as a person reads it. */
export async function describeHolder(directory: string, lease: Lease): Promise<string> {
  // The link `queue.lease` is made once when the lease is taken; heartbeats rewrite the holder's own file.
  const since = await fs.lstat(join(directory, LEASE_FILE)).then(
    (stat) => stat.mtime.toISOString(),
    () => undefined,
  );
  const where = lease.hostname === hostname() ? `${lease.hostname} (this machine)` : lease.hostname;
  return `pid ${lease.pid} on ${where}${since ? `, holding it since ${since}` : ''}, last heartbeat ${new Date(lease.heartbeatAt).toISOString()}${lease.state === 'releasing' ? ', releasing' : ''}`;
}

/**
 * The lease taken by this command while it writes: no window starts writing the folder meanwhile
 * (a window that opens finds a live holder and waits for it, as it waits for another window).
 */
export class CliLease {
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    private readonly directory: string,
    private readonly lease: Lease,
  ) {
    this.heartbeat = setInterval(() => {
      this.lease.heartbeatAt = Date.now();
      void refreshLease(directory, this.lease).catch(() => undefined);
    }, HEARTBEAT_MS);
  }

  /**
   * Takes the lease, or refuses with who holds it. A lease whose holder is gone (its pid dead on
   * this machine, an unreadable file) is taken over as a window would; a lease of another machine
   * is judged by its heartbeat, watched for the staleness limit.
   */
  static async acquire(directory: string, staleAfterMs = DEFAULT_LEASE_STALE_AFTER_MS): Promise<CliLease> {
    // The socket is never served: a window that finds this lease keeps trying to reach it until it is gone.
    const lease = newLease((activationId) => socketPathFor(directory, activationId));
    const observer = new StalenessObserver(staleAfterMs);
    const started = Date.now();
    for (;;) {
      const current = await readLease(directory);
      if (!current) {
        if (await tryCreateLease(directory, lease)) return new CliLease(directory, lease);
        continue;
      }
      if (observer.isStale(current)) {
        if (await takeOverLease(directory, current, lease, staleAfterMs)) return new CliLease(directory, lease);
        continue;
      }
      // A live holder on this machine is known at once; one elsewhere only by a heartbeat that moves.
      if (current.hostname === hostname() || Date.now() - started > staleAfterMs * 2) {
        throw new CliError(
          'busy',
          `A Lifeline window (or another lifeline-store) holds ${directory}: ${await describeHolder(directory, current)}. Close that window (or wait for it) and run this again; nothing was written.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async release(): Promise<void> {
    clearInterval(this.heartbeat);
    await removeLease(this.directory, this.lease);
  }
}
