import type { RecordCipher } from '../storage/cipher';
import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from '../clock';
import { setDeadline, systemClock } from '../clock';
import type { Logger } from '../logger';
import { BackupManager } from '../storage/backupManager';
import type { AutomaticBackupReason, BackupInfo } from '../storage/backupManager';
import type { BackupPart } from '../storage/backupTypes';
import { durableBackupSource } from '../storage/durableBackupSource';
import type { BackupStoreEntry } from '../storage/durableBackupSource';
import { StorageError } from '../storage/errors';
import { readSnapshotHeader } from '../storage/snapshot';
import type { RuntimeOptions } from './runtimeOptions';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The first check waits this long after this process takes the queue: not on the window's start-up path. */
const FIRST_CHECK_DELAY_MS = 60_000;

export interface RuntimeBackupsOptions {
  /** `<storage>/backups`. */
  readonly directory: string;
  /** Only the process that holds the queue writes backups: the stores have one writer, and so does this folder. */
  readonly isHolder: () => boolean;
  readonly logger: Logger;
  /** @default the system clock */
  readonly clock?: Clock;
  /** The runtime's options as they are now (interval, count and age are read at each use). */
  readonly options: () => RuntimeOptions;
  readonly appVersion: string;
  /** What backups are sealed with when the runtime opens; a re-key changes it (BackupManager.rekey). */
  readonly cipher?: RecordCipher;
}

/**
 * Automatic, rotated backups of the workspace's stores in `<storage>/backups`, and the newest good
 * copy of a store for a store whose own files are damaged (`loadFallback`).
 *
 * While this process holds the queue: a scheduled backup every `backupIntervalHours`, taken only
 * when a store's sequence moved since the newest backup (an idle workspace writes none), and one
 * before a schema migration (`beforeMigration`). A restore (`manager.restore`, for the commands
 * to come) writes its own 'beforeRestore' backup first; the queue must then be reopened.
 * Each backup exports the stores' acknowledged state (exportSnapshot, which never holds up a
 * commit), writes one checksummed file atomically and resolves once it is on disk; then automatic
 * backups past `backupKeep` of each kind or `backupMaxAgeDays` old (the newest of each kind aside)
 * are deleted. Files in the folder that are not backups are logged once and never touched.
 */
export class RuntimeBackups {
  readonly manager: BackupManager;
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  /** The last scheduled check or backup, so that close waits for it and checks never overlap. */
  private checking: Promise<unknown> = Promise.resolve();
  /** `store:sequence` of what the newest backup holds; undefined until read (once, at the first check). */
  private lastMarker: string | undefined;
  private lastAt: number | undefined;
  private following = false;
  private closed = false;
  /** The stores open now (the queue, the active history, the state store), read at each backup. */
  private stores: () => readonly BackupStoreEntry[] = () => [];
  /** Resolves once the stores that open with the holder role are open (the history), so a scheduled backup holds them. */
  private whenReady: () => Promise<unknown> = () => Promise.resolve();

  constructor(private readonly options: RuntimeBackupsOptions) {
    this.clock = options.clock ?? systemClock;
    const current = options.options;
    this.manager = new BackupManager({
      cipher: options.cipher,
      directory: options.directory,
      source: durableBackupSource(() => this.liveStores()),
      appVersion: options.appVersion,
      clock: this.clock,
      log: (message) => options.logger.warn(message),
      // Getters: a settings change applies at the next rotation.
      get keepAutomatic() {
        return current().backupKeep;
      },
      get maxAutomaticAgeMs() {
        const days = current().backupMaxAgeDays;
        return days > 0 ? days * DAY_MS : undefined;
      },
    });
  }

  /**
   * For a store's `loadFallback`: its part of the newest backup that verifies (older ones are
   * tried when the newest is damaged), or undefined when no backup holds it.
   */
  loadFallback(storeName: string): () => Promise<Uint8Array | undefined> {
    return async () => {
      const found = await this.manager.newestGoodBackup(storeName);
      if (found) {
        this.options.logger.warn(
          `[backups] the ${storeName} opens from the backup ${found.backupId} of ${found.createdAt.toISOString()}, then what its journals hold after it`,
        );
      } else {
        this.options.logger.error(`[backups] no backup holds the ${storeName}`);
      }
      return found?.part.bytes;
    };
  }

  /**
   * Names the live stores. Separate from the constructor: the service exists before the stores open,
   * since a store whose snapshot is damaged asks it for the newest good backup while opening.
   */
  bind(stores: () => readonly BackupStoreEntry[], whenReady: () => Promise<unknown>): void {
    this.stores = stores;
    this.whenReady = whenReady;
  }

  /** The stores a backup holds now: a restore in place replaces the ones it does not reopen. */
  liveStores(): readonly BackupStoreEntry[] {
    return this.stores();
  }

  /** Starts or stops the schedule as this process takes or loses the queue. */
  follow(holder: boolean): void {
    if (this.closed || holder === this.following) return;
    this.following = holder;
    this.timer?.dispose();
    this.timer = undefined;
    if (holder) this.arm(this.clock.now() + FIRST_CHECK_DELAY_MS);
  }

  /**
   * The scheduled check, run by the timer (and by tests): backs up when the interval has passed
   * since the newest backup and a store changed since it. Resolves with the backup made, if any.
   */
  checkSchedule(): Promise<BackupInfo | undefined> {
    const run = this.checking.then(() => this.check());
    this.checking = run.catch(() => undefined);
    return run;
  }

  /** Writes a backup now; resolves once it is on disk. Only the holder backs up. */
  async backupNow(reason: AutomaticBackupReason | 'manual', parts?: readonly BackupPart[]): Promise<BackupInfo> {
    if (!this.options.isHolder()) {
      throw new StorageError('locked', 'Backups are written by the process that holds the queue; this one does not.');
    }
    const marker = this.currentMarker();
    const started = performance.now();
    const info = await this.manager.create(reason, { parts });
    this.options.logger.info(
      `[backups] wrote ${info.id} (${info.fileSize} bytes: ${info.parts.map((part) => `${part.name} ${part.summary}`).join(', ') || 'no store'}) in ${Math.round(performance.now() - started)} ms`,
    );
    // An override (before a migration) holds an older state than the live one: the next check must not take it as current.
    if (parts === undefined || parts.length === 0) this.lastMarker = marker;
    this.lastAt = info.createdAt.getTime();
    return info;
  }

  /**
   * The backup before a store migrates its saved state: `parts` are the store's snapshot as it was
   * (replacing its live part, which is not open yet or already newer). Resolves once on disk, so a
   * migration that awaits it starts only with the copy made.
   */
  beforeMigration(parts: readonly BackupPart[]): Promise<BackupInfo> {
    return this.backupNow('beforeMigration', parts);
  }

  /** Stops the schedule and waits for a backup being written. */
  async close(): Promise<void> {
    this.closed = true;
    this.following = false;
    this.timer?.dispose();
    this.timer = undefined;
    await this.checking;
  }

  private arm(at: number): void {
    this.timer?.dispose();
    if (this.closed || !this.following) return;
    this.timer = setDeadline(this.clock, at, () => {
      void this.checkSchedule().catch((error: unknown) => this.options.logger.warn(`[backups] scheduled backup failed: ${String(error)}`));
    });
  }

  private async check(): Promise<BackupInfo | undefined> {
    if (this.closed || !this.options.isHolder()) return undefined;
    const intervalMs = this.options.options().backupIntervalHours * HOUR_MS;
    // Off, or nothing changed: look again within the hour (a settings change or new work applies then).
    const recheck = (): undefined => {
      this.arm(this.clock.now() + (intervalMs > 0 ? Math.min(intervalMs, HOUR_MS) : HOUR_MS));
      return undefined;
    };
    if (intervalMs <= 0) return recheck();
    await this.whenReady();
    if (this.lastAt === undefined) await this.readNewest();
    const due = (this.lastAt ?? Number.NEGATIVE_INFINITY) + intervalMs;
    if (this.clock.now() < due) {
      this.arm(due);
      return undefined;
    }
    if (this.currentMarker() === this.lastMarker) {
      this.options.logger.info('[backups] nothing changed since the last backup: none written');
      return recheck();
    }
    try {
      const info = await this.backupNow('scheduled');
      this.arm(info.createdAt.getTime() + intervalMs);
      return info;
    } catch (error) {
      this.options.logger.warn(`[backups] the scheduled backup failed; tried again within the hour: ${String(error)}`);
      recheck();
      throw error;
    }
  }

  /** The time and the stores' sequences of the newest backup that reads well, from a former run. */
  private async readNewest(): Promise<void> {
    const newest = (await this.manager.list()).find((info) => info.status === 'ok');
    // No backup yet: empty stores are "nothing changed"; the first record written makes one due.
    this.lastMarker ??= '';
    if (!newest) return;
    this.lastAt = newest.createdAt.getTime();
    try {
      const backup = await this.manager.read(newest.id);
      this.lastMarker = marker(backup.parts.map((part) => ({ name: part.name, sequence: readSnapshotHeader(part.bytes).sequence })));
    } catch (error) {
      // Damaged since it was listed: the next backup is due on time anyway and will be written.
      this.options.logger.warn(`[backups] the newest backup ${newest.id} does not verify: ${String(error)}`);
    }
  }

  private currentMarker(): string {
    return marker(this.liveStores().map((entry) => ({ name: entry.store.name, sequence: entry.store.sequence })));
  }
}

/** What a backup holds, as `name:sequence`; a store with no record yet counts as absent. */
function marker(parts: readonly { name: string; sequence: number }[]): string {
  return parts
    .filter((part) => part.sequence > 0)
    .map((part) => `${part.name}:${part.sequence}`)
    .sort()
    .join(',');
}
