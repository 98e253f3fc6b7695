import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { LostShard } from '../core/history/archive';
import type { ArchiveEvent } from '../core/history/archiveRepair';
import type { HistoryOpenReport } from '../core/history/jobHistory';
import { JobHistory } from '../core/history/jobHistory';
import type { Logger } from '../core/logger';
import { DurableQueueLog } from '../core/queue/durableQueueLog';
import { liveStores } from '../core/runtime/runtimeStores';
import { BackupManager } from '../core/storage/backupManager';
import type { RecordCipher } from '../core/storage/cipher';
import type { BackupSource } from '../core/storage/backupTypes';
import { durableBackupSource } from '../core/storage/durableBackupSource';
import type { BackupStoreEntry } from '../core/storage/durableBackupSource';
import { combineBackupSources, ownedBy } from '../core/storage/fileBackupSource';
import { StateStore } from '../core/storage/stateStore';
import type { StorageEvent } from '../core/storage/storeEvents';

/** The folders of a workspace's stores under its storage folder (as WorkspaceRuntime and QueueSession lay them out). */
export const QUEUE_FOLDER = 'queue';
export const HISTORY_FOLDER = 'history';
/** The state store's folder: `<storage>/state/state.*`, as the runtime opens it (runtimeState.ts); absent in folders written before it. */
export const STATE_FOLDER = 'state';
export const BACKUPS_FOLDER = 'backups';
export const JOBS_FOLDER = 'jobs';
/** Parts of a backup that hold the history's sealed archive (JobHistory.archiveBackupSource). */
export const ARCHIVE_PREFIX = 'history-archive.';

/** Something opening a store found and did, as the report lists it. */
export type StoreFinding =
  | { readonly kind: 'storage'; readonly store: string; readonly event: StorageEvent }
  | { readonly kind: 'archive'; readonly event: ArchiveEvent }
  | { readonly kind: 'lostShard'; readonly shard: LostShard };

export interface StoreSetOptions {
  /** The folder the stores are opened in: the storage folder itself (repair, restore) or a copy of it (verify, dump). */
  readonly directory: string;
  /** Where the backups are read from (the real folder's backups/ even when `directory` is a copy). */
  readonly backupsDirectory: string;
  readonly cipher: RecordCipher | undefined;
  readonly wasmPath: string;
  readonly logger: Logger;
  /** Open the state store even when its folder does not exist yet (a restore of a backup that holds it). */
  readonly createState?: boolean;
}

/**
 * The workspace's stores opened through their own classes, each repairing and reporting as it
 * does in the extension (a damaged snapshot falls back to the previous generation, then to the
 * newest good backup): the queue, the history with its archive, and the state store when present.
 * The history is opened so that it archives and deletes nothing (the window does that, by its settings).
 */
export class StoreSet {
  private constructor(
    readonly queue: DurableQueueLog,
    readonly history: JobHistory | undefined,
    readonly historyReport: HistoryOpenReport | undefined,
    readonly state: StateStore | undefined,
    readonly findings: readonly StoreFinding[],
    readonly backups: BackupManager,
  ) {}

  static async open(options: StoreSetOptions): Promise<StoreSet> {
    const { directory, cipher, logger } = options;
    const findings: StoreFinding[] = [];
    const onEvent = (event: StorageEvent): void => {
      if (event.type !== 'compacted') findings.push({ kind: 'storage', store: event.store, event });
    };
    // Reads only (newestGoodBackup): its source is never asked for parts.
    const fallbacks = new BackupManager({
      directory: options.backupsDirectory,
      source: { snapshotParts: async () => [], installParts: async () => undefined },
      appVersion: 'lifeline-store',
      cipher,
      log: (message) => logger.warn(message),
    });
    const loadFallback = (name: string) => async () => (await fallbacks.newestGoodBackup(name))?.part.bytes;
    const queue = new DurableQueueLog({
      directory: join(directory, QUEUE_FOLDER),
      cipher,
      logger,
      onEvent,
      loadFallback: loadFallback('queue'),
    });
    let history: JobHistory | undefined;
    let historyReport: HistoryOpenReport | undefined;
    let state: StateStore | undefined;
    try {
      await queue.load();
      const opened = await JobHistory.open({
        directory: join(directory, HISTORY_FOLDER),
        cipher,
        wasmPath: options.wasmPath,
        logger,
        onStorageEvent: onEvent,
        loadFallback: loadFallback('history'),
        maxActiveEntries: Number.MAX_SAFE_INTEGER,
        retentionDays: 0,
      });
      history = opened.history;
      historyReport = opened.report;
      for (const event of opened.report.archiveEvents) findings.push({ kind: 'archive', event });
      for (const shard of opened.report.lostShards) findings.push({ kind: 'lostShard', shard });
      const stateDir = join(directory, STATE_FOLDER);
      if (options.createState || (await exists(stateDir))) {
        state = await StateStore.open({ directory: stateDir, cipher, logger, onEvent, loadFallback: loadFallback('state') });
      }
    } catch (error) {
      await history?.close({ compact: false }).catch(() => undefined);
      await queue.close().catch(() => undefined);
      throw error;
    }
    return new StoreSet(queue, history, historyReport, state, findings, fallbacks);
  }

  /** The open stores as backup parts, named as the runtime names them (queue, history, state). */
  entries(): BackupStoreEntry[] {
    return liveStores(this.queue, this.history, this.state?.durable);
  }

  /**
   * The stores as a backup source; with `archive`, the history's sealed archive too, when it has
   * one (an archive that never sealed a shard has no index to back up).
   */
  backupSource(archive: boolean): BackupSource {
    const history = this.history;
    if (!archive || !history || !existsSync(join(history.archive.directory, 'index.json'))) {
      return durableBackupSource(() => this.entries());
    }
    return this.installSource();
  }

  /** Where a restore installs parts: every store, and the archive (so that a backup that holds it can be restored). */
  installSource(): BackupSource {
    const stores = durableBackupSource(() => this.entries());
    if (!this.history) return stores;
    const names = new Set(this.entries().map((entry) => entry.store.name));
    return combineBackupSources([ownedBy(stores, (name) => names.has(name)), this.history.archiveBackupSource()]);
  }

  /** Closes every store; a store that was repaired keeps the repair (its fresh snapshot was written while opening). */
  async close(): Promise<void> {
    await this.state?.close().catch(() => undefined);
    await this.history?.close({ compact: false }).catch(() => undefined);
    await this.queue.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return fs.stat(path).then(
    () => true,
    () => false,
  );
}
