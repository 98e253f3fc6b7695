import { performance } from 'node:perf_hooks';
import { readLeaseSync, StalenessObserver } from '../shared/supervisor/node/leaseFile';
import type { StopWithoutHost } from '../shared/supervisor/supervisorWire';

export type HostWatchVerdict = 'held' | 'counting' | 'expired';

/**
 * Watches the queue's lease for a job whose setting says to stop when VS Code closes for good:
 * `expired` once no live holder (no lease, or one stale by the lease's own rules) was seen for the
 * whole grace period. A holder seen again within it starts the countdown over. Looked at on the
 * job's heartbeat: the lease is one small file, and the grace period is seconds to minutes.
 */
export class HostWatch {
  private readonly observer: StalenessObserver;
  /** Since when (monotonic) no holder was seen. */
  private noHolderSince: number | undefined;

  constructor(private readonly options: StopWithoutHost) {
    this.observer = new StalenessObserver(options.leaseStaleAfterMs);
  }

  get afterMs(): number {
    return this.options.afterMs;
  }

  check(now = performance.now()): HostWatchVerdict {
    const lease = readLeaseSync(this.options.leaseDir);
    if (lease && !this.observer.isStale(lease, now)) {
      this.noHolderSince = undefined;
      return 'held';
    }
    this.noHolderSince ??= now;
    return now - this.noHolderSince >= this.options.afterMs ? 'expired' : 'counting';
  }
}
