import { formatBytes } from '../core/runtime/lowDiskMonitor';
import type { StorageHealth } from '../core/runtime/storageHealth';
import type { StorageNotice } from '../shared/queuePanelProtocol';

/** The free space when the disk was last found low, as the runtime reported it. */
export interface LowDiskState {
  readonly freeBytes: number;
  readonly thresholdBytes: number;
}

/**
 * What the Queue view and the Queue dashboard show about the queue's storage: built in one place
 * so that the two say the same. Not saving comes first: it is the one that loses changes.
 */
export function storageNotices(health: StorageHealth, lowDisk: LowDiskState | undefined, now: number): StorageNotice[] {
  const notices: StorageNotice[] = [];
  if (health.state === 'notSaving') {
    const minutes = Math.floor((now - health.since) / 60_000);
    notices.push({
      kind: 'notSaving',
      title: `Not saving: ${health.reason}`,
      detail:
        `Since ${minutes < 1 ? 'less than a minute ago' : `${minutes} min ago`}, changes to the queue fail to save and are refused; ` +
        'running jobs go on. Free space or fix the disk, then Retry.',
      retry: true,
    });
  }
  if (lowDisk) {
    notices.push({
      kind: 'lowDisk',
      title: `Low disk space: ${formatBytes(lowDisk.freeBytes)} free, below ${formatBytes(lowDisk.thresholdBytes)}`,
      detail:
        'No new job starts until there is more free space (setting lifeline.storage.minFreeMB); running jobs go on and queued jobs wait.',
      retry: true,
    });
  }
  return notices;
}
