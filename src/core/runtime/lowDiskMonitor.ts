import { statfs as nodeStatfs } from 'node:fs/promises';
import type { Clock, TimerHandle } from '../clock';
import { Emitter } from '../emitter';
import type { Event } from '../emitter';
import type { Logger } from '../logger';

/** Bytes free to this process on the file system of `path` (fs.statfs: `bavail * bsize`). */
export type FreeSpaceProbe = (path: string) => Promise<number>;

export const statfsFreeBytes: FreeSpaceProbe = async (path) => {
  const stats = await nodeStatfs(path);
  return Number(stats.bavail) * Number(stats.bsize);
};

/** How often free space is checked while nothing fails. A failed commit checks at once. */
export const LOW_DISK_CHECK_INTERVAL_MS = 30_000;

/** A change of the storage folder's disk between enough space and too little. */
export interface LowDiskChange {
  readonly low: boolean;
  readonly freeBytes: number;
  readonly thresholdBytes: number;
}

export interface LowDiskMonitorOptions {
  /** The folder whose file system is checked: the workspace's storage folder. */
  readonly directory: string;
  /** The threshold in MB (`lifeline.storage.minFreeMB`), read at each check; 0 turns the monitor off. */
  readonly minFreeMB: () => number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default statfsFreeBytes */
  readonly freeBytes?: FreeSpaceProbe;
  /** @default LOW_DISK_CHECK_INTERVAL_MS */
  readonly intervalMs?: number;
}

/**
 * Watches the free space of the storage folder's disk so that the queue stops starting jobs before
 * a full disk makes it unable to save. It only observes and says when the state changes; the
 * runtime decides what to hold back and whom to tell. A probe that fails (the folder unreachable)
 * changes nothing: the failed commits say that better.
 */
export class LowDiskMonitor {
  private readonly emitter: Emitter<LowDiskChange>;
  /** Fires when the disk goes below the threshold and when it is above it again (a threshold of 0 is above). */
  readonly onDidChange: Event<LowDiskChange>;
  private lowValue = false;
  private timer: TimerHandle | undefined;
  private checking: Promise<void> | undefined;
  private disposed = false;

  constructor(private readonly options: LowDiskMonitorOptions) {
    this.emitter = new Emitter<LowDiskChange>((error) => options.logger.error(`[disk] a listener failed: ${String(error)}`));
    this.onDidChange = this.emitter.event;
  }

  get isLow(): boolean {
    return this.lowValue;
  }

  /** Checks now, then every interval. */
  start(): void {
    void this.check();
  }

  /** Checks now (a commit failed, the threshold changed); concurrent asks share one probe. */
  check(): Promise<void> {
    this.checking ??= this.probe().finally(() => {
      this.checking = undefined;
      this.arm();
    });
    return this.checking;
  }

  private arm(): void {
    this.timer?.dispose();
    if (this.disposed) return;
    this.timer = this.options.clock.setTimer(() => void this.check(), this.options.intervalMs ?? LOW_DISK_CHECK_INTERVAL_MS);
  }

  private async probe(): Promise<void> {
    const thresholdBytes = Math.max(0, this.options.minFreeMB()) * 1024 * 1024;
    let freeBytes: number;
    if (thresholdBytes === 0) freeBytes = Number.POSITIVE_INFINITY;
    else {
      try {
        freeBytes = await (this.options.freeBytes ?? statfsFreeBytes)(this.options.directory);
      } catch (error) {
        this.options.logger.warn(`[disk] could not read the free space of ${this.options.directory}: ${String(error)}`);
        return;
      }
    }
    if (this.disposed) return;
    const low = freeBytes < thresholdBytes;
    if (low === this.lowValue) return;
    this.lowValue = low;
    this.emitter.fire({ low, freeBytes, thresholdBytes });
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.dispose();
    this.emitter.dispose();
  }
}

/** "1.5 GB", "120 MB", "300 KB": free space as a person reads it. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unlimited';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
