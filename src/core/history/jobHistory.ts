import { join } from 'node:path';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { Logger } from '../logger';
import { nullLogger } from '../logger';
import type { AuditSink } from '../storage/auditLog';
import type { RecordCipher } from '../storage/cipher';
import type { StorageEvent } from '../storage/storeEvents';
import { fileBackupSource } from '../storage/fileBackupSource';
import type { OwnedBackupSource } from '../storage/fileBackupSource';
import { ActiveHistory } from './activeHistory';
import type { ActiveOpenReport } from './activeHistory';
import { Archive } from './archive';
import type { ArchivePage, LostShard } from './archive';
import type { ArchiveEvent } from './archiveRepair';
import { parseEntry } from './historyEntry';
import type { HistoryEntry, HistoryEntryInput } from './historyEntry';
import { HistoryError } from './historyErrors';
import { computeStatistics, estimateDuration, findEarlierRuns } from './historyInsights';
import type { DurationEstimate, EarlierRunsRequest, HistoryStatistics, StatisticsRequest } from './historyInsights';
import { DurableHistoryLog } from './durableHistoryLog';
import type { HistoryLog } from './historyLog';
import type { HistoryFilter, Page, SortColumn, SortDirection } from './historyQuery';
import type { Migration } from './schema';
import { loadSqlJs } from './sqlLoader';
import type { SqlJsStatic } from './sqlLoader';

const dropSlice = 200;

/** Entries kept in the active history before older ones are archived: `lifeline.history.maxActiveEntries`'s default. */
export const DEFAULT_MAX_ACTIVE_ENTRIES = 100;

export interface JobHistoryOptions {
  /** Folder of the history: `history.snapshot`, `history.<generation>.journal`, and the archive in `<directory>/archive`. */
  readonly directory: string;
  /** The active history's snapshot and journal. @default a DurableHistoryLog in `directory` */
  readonly log?: HistoryLog;
  /**
   * Encrypts the active history (snapshot and journal, through the storage core) and every
   * archive shard written from now on. A history written with a key never opens without it.
   */
  readonly cipher?: RecordCipher;
  /** Storage events of the default log: damage found while opening, compactions. Offer the newest backup on damage. */
  readonly onStorageEvent?: (event: StorageEvent) => void;
  /** The history part of the newest good backup, asked for only when the active snapshot is damaged. */
  readonly loadFallback?: () => Promise<Uint8Array | undefined>;
  readonly audit?: AuditSink;
  /** sql-wasm.wasm: dist/sql-wasm.wasm beside the bundle at run time. */
  readonly wasmPath: string;
  /** Entries kept active (`lifeline.history.maxActiveEntries`). @default 100 */
  readonly maxActiveEntries?: number;
  /** Archival starts on its own when the active history passes maxActiveEntries by this many. @default 20 */
  readonly archiveMargin?: number;
  /** Entries sealed per archival batch. @default 1000 */
  readonly archiveBatchSize?: number;
  /** About how large a shard may grow; a busy month gets several. @default 4 MiB */
  readonly maxShardBytes?: number;
  /** Memory for open shards (their files; sql.js runs on them in place). @default 16 MiB */
  readonly shardCacheBytes?: number;
  /** Open shards close after this long without a query. @default 30000 */
  readonly shardIdleMs?: number;
  /** Archived shards older than this many days are deleted; 0 keeps everything. @default 0 */
  readonly retentionDays?: number;
  /** Compact (fold the journal into a new image) once the journal passes this size. @default 1 MiB */
  readonly compactAfterBytes?: number;
  /**
   * Told of every shard found damaged or missing (also when a statistics or earlier-runs query
   * finds it): it is in quarantine/ and its entries are gone from view. Offer the newest backup.
   */
  readonly onLostShard?: (lost: LostShard) => void;
  /** Told of every repair the archive made on its own: a rebuilt index, an adopted shard, an index entry replaced (#16). */
  readonly onArchiveEvent?: (event: ArchiveEvent) => void;
  /** Compact at least this often while appends arrive (the time threshold). @default 600000 */
  readonly compactIntervalMs?: number;
  /** The automatic backup before a schema migration: gets the image as it was. */
  readonly beforeMigrate?: (image: Uint8Array, fromVersion: number, toVersion: number) => Promise<void>;
  readonly logger?: Logger;
  /** Decides retention cut-offs, statistics windows and the compaction interval. @default systemClock */
  readonly clock?: Clock;
  /** For tests: the schema steps and target version. */
  readonly migrations?: readonly Migration[];
  readonly targetVersion?: number;
}

export interface HistoryOpenReport extends ActiveOpenReport {
  readonly lostShards: readonly LostShard[];
  readonly indexRebuilt: boolean;
  /** The archive's repairs while it opened (also given to onArchiveEvent). */
  readonly archiveEvents: readonly ArchiveEvent[];
  /** Archival batches that were sealed but not yet dropped from the active history when the last run stopped. */
  readonly reconciledBatches: readonly number[];
}

/** The job history: the active sql.js database, its archive, queries, statistics and archival. */
export class JobHistory {
  private maintenance: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly maxActive: number;
  private readonly clock: Clock;
  private lastCompact: number;

  private constructor(
    readonly active: ActiveHistory,
    private currentArchive: Archive,
    /** Its `durableStore` is the history's backup part when it is a DurableHistoryLog. */
    readonly log: HistoryLog,
    private readonly options: JobHistoryOptions,
    private readonly logger: Logger,
  ) {
    this.maxActive = options.maxActiveEntries ?? DEFAULT_MAX_ACTIVE_ENTRIES;
    this.clock = options.clock ?? systemClock;
    this.lastCompact = this.clock.now();
  }

  static async open(options: JobHistoryOptions): Promise<{ history: JobHistory; report: HistoryOpenReport }> {
    const logger = options.logger ?? nullLogger;
    const SQL = await loadSqlJs(options.wasmPath);
    const log =
      options.log ??
      new DurableHistoryLog({
        directory: options.directory,
        cipher: options.cipher,
        logger,
        audit: options.audit,
        onEvent: options.onStorageEvent,
        loadFallback: options.loadFallback,
      });
    const { active, report } = await ActiveHistory.open(SQL, log, options);
    let opened: Awaited<ReturnType<typeof Archive.open>>;
    try {
      opened = await JobHistory.openArchive(SQL, options, logger);
    } catch (error) {
      await active.close();
      throw error;
    }
    const history = new JobHistory(active, opened.archive, log, options, logger);
    let reconciledBatches: number[];
    try {
      reconciledBatches = await history.reconcile();
    } catch (error) {
      // Let go of the store, or the next open in this process finds it still open.
      opened.archive.close();
      await active.close().catch(() => undefined);
      throw error;
    }
    if (report.lost) {
      logger.error(
        `[history] the saved history was damaged: ${report.storageEvents.map((event) => ('detail' in event ? event.detail : event.type)).join('; ')}`,
      );
    }
    history.schedule(async () => {
      await history.archiveOverflow(0);
      await history.retention();
    });
    return {
      history,
      report: { ...report, lostShards: opened.lost, indexRebuilt: opened.indexRebuilt, archiveEvents: opened.events, reconciledBatches },
    };
  }

  /**
   * Finishes an archival that a crash interrupted: a batch in the index but not yet dropped from
   * the active history is dropped now, by job id, so no entry shows twice. Only shards whose time
   * range holds an active entry are opened, so this stays cheap even when the active history was
   * lost or restored from an older backup (then every batch is pending).
   */
  private async reconcile(): Promise<number[]> {
    const pending = this.archive.shards.filter((shard) => shard.batch > this.active.archivedBatch);
    if (pending.length === 0) return [];
    const batches = [...new Set(pending.map((shard) => shard.batch))].sort((a, b) => a - b);
    const active = this.active
      .rows('SELECT job_id, finished_at FROM entries')
      .map((row) => ({ jobId: String(row.job_id), finishedAt: Number(row.finished_at) }));
    const jobIds = new Set<string>();
    for (const shard of pending) {
      const candidates = active
        .filter((e) => e.finishedAt >= shard.minFinishedAt && e.finishedAt <= shard.maxFinishedAt)
        .map((e) => e.jobId);
      if (candidates.length > 0) for (const id of await this.archive.jobIdsAmong(shard, candidates)) jobIds.add(id);
    }
    const ids = [...jobIds];
    const batch = batches[batches.length - 1] ?? 0;
    for (let start = 0; start < ids.length || start === 0; start += dropSlice) {
      const last = start + dropSlice >= ids.length;
      await this.active.commit([
        { t: 'drop', batch: last ? batch : this.active.archivedBatch, jobIds: ids.slice(start, start + dropSlice) },
      ]);
    }
    return batches;
  }

  get archive(): Archive {
    return this.currentArchive;
  }

  private static openArchive(
    SQL: SqlJsStatic,
    options: JobHistoryOptions,
    logger: Logger,
    unnamedShards: 'adopt' | 'setAside' = 'adopt',
  ): ReturnType<typeof Archive.open> {
    return Archive.open(
      SQL,
      join(options.directory, 'archive'),
      { maxBytes: options.shardCacheBytes, idleMs: options.shardIdleMs, cipher: options.cipher },
      (lost) => {
        logger.warn(
          `[history] archive shard ${lost.file} is damaged or missing: ${lost.count} entries of ${lost.month} lost${lost.quarantinedTo ? `; moved to ${lost.quarantinedTo}` : ''}`,
        );
        options.onLostShard?.(lost);
      },
      (event) => {
        if (event.type === 'leftoverRemoved') {
          logger.info(`[history] removed ${event.file}, a temp file of an archive write that never finished`);
        } else logger.warn(`[history] archive repaired: ${JSON.stringify(event)}`);
        options.onArchiveEvent?.(event);
      },
      unnamedShards,
    );
  }

  /**
   * The sealed archive as backup parts (`history-archive.index.json` and one
   * `history-archive.shards.<file>` per shard, as stored: sealed shards stay encrypted), for a
   * backup the user asked to include the archive in. Combine it with durableBackupSource (which
   * holds the active history, `log.durableStore`) through combineBackupSources. Reading waits
   * for archival, so index and shards agree; a restore reopens the archive and reconciles.
   */
  archiveBackupSource(): OwnedBackupSource {
    const directory = (): string => this.archive.directory;
    return fileBackupSource({
      prefix: 'history-archive.',
      list: () => this.run(async () => ['index.json', ...this.archive.shards.map((shard) => `shards.${shard.file}`)]),
      path: (file) => (file.startsWith('shards.') ? join(directory(), 'shards', file.slice('shards.'.length)) : join(directory(), file)),
      summary: (file, bytes) => (file === 'index.json' ? `${this.archive.count} archived entries` : `${bytes} bytes`),
      afterInstall: () => this.reloadArchive({ afterRestore: true }).then(() => undefined),
    });
  }

  /**
   * Reopens the archive from its files and reconciles the active history with it. Call it after a
   * restore (of the active history, the archive, or both): batches the restored active history
   * does not know as archived are dropped from it, by job id, so no entry shows twice. With
   * `afterRestore` (the archive's files were just restored) shards newer than the restored index
   * are set aside in quarantine rather than adopted back.
   */
  reloadArchive(
    options: { afterRestore?: boolean } = {},
  ): Promise<{ lostShards: readonly LostShard[]; reconciledBatches: readonly number[] }> {
    this.assertOpen();
    return this.run(async () => {
      const SQL = await loadSqlJs(this.options.wasmPath);
      const opened = await JobHistory.openArchive(SQL, this.options, this.logger, options.afterRestore ? 'setAside' : 'adopt');
      this.currentArchive.close();
      this.currentArchive = opened.archive;
      return { lostShards: opened.lost, reconciledBatches: await this.reconcile() };
    });
  }

  /** Records a finished job. Resolves once it is durable and visible to queries. */
  async append(input: HistoryEntryInput): Promise<void> {
    this.assertOpen();
    await this.active.commit([{ t: 'add', entry: parseEntry(input) }]);
    if (this.active.count > this.maxActive + (this.options.archiveMargin ?? 20)) this.schedule(() => this.archiveOverflow(0));
    const due = this.clock.now() - this.lastCompact > (this.options.compactIntervalMs ?? 600_000);
    if (this.active.journalBytes > (this.options.compactAfterBytes ?? 1024 * 1024) || due) {
      this.lastCompact = this.clock.now();
      this.schedule(() => this.active.compact());
    }
  }

  /** Runs maintenance one task at a time, off the caller's path; failures are logged, never thrown at a caller that did not ask. */
  private schedule(task: () => Promise<unknown>): void {
    this.run(async () => {
      if (!this.closed) await task();
    }).catch((error: unknown) =>
      this.logger.error(`[history] maintenance failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  /** Queues a task behind running maintenance (archival and compaction never overlap) and returns its result. */
  private run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.maintenance.then(() => task());
    this.maintenance = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves when scheduled maintenance (archival, compaction) has finished. */
  whenIdle(): Promise<void> {
    return this.maintenance;
  }

  /**
   * Moves every entry past maxActiveEntries into the archive, `archiveBatchSize` at a time. Per
   * batch: seal the shards and the index (atomically), then journal the drop. A crash between
   * the two is finished by reconcile() at the next open.
   */
  private async archiveOverflow(margin = 0): Promise<{ archived: number; batches: number }> {
    let archived = 0;
    let batches = 0;
    while (this.active.count > this.maxActive + margin) {
      const overflow = this.active.overflow(this.maxActive, this.options.archiveBatchSize ?? 1000);
      if (overflow.length === 0) break;
      // A restored copy whose shard still exists is already archived: drop it, do not seal it twice.
      const toSeal = overflow.filter((entry) => entry.restoredFrom === undefined || !this.archive.hasShard(entry.restoredFrom));
      const sealed = toSeal.map(({ restoredFrom: _restoredFrom, ...entry }) => entry as HistoryEntry);
      const { batch } =
        toSeal.length > 0
          ? await this.archive.addBatch(sealed, this.options.maxShardBytes ?? 4 * 1024 * 1024)
          : { batch: this.active.archivedBatch };
      // Dropped in slices so no single apply holds the event loop for long (FTS deletes cost about
      // 0.1 ms a row). Only the last slice records the batch: until it lands, reconcile() at the
      // next open still sees the batch as pending and drops whatever is left, by job id.
      const jobIds = overflow.map((entry) => entry.jobId);
      for (let start = 0; start < jobIds.length; start += dropSlice) {
        const last = start + dropSlice >= jobIds.length;
        await this.active.commit([
          { t: 'drop', batch: last ? batch : this.active.archivedBatch, jobIds: jobIds.slice(start, start + dropSlice) },
        ]);
      }
      archived += overflow.length;
      batches++;
      margin = 0;
    }
    if (archived > 0) this.logger.info(`[history] archived ${archived} entries in ${batches} batches`);
    return { archived, batches };
  }

  /** Archival on command: everything past maxActiveEntries, now. */
  async archiveNow(): Promise<{ archived: number; batches: number }> {
    this.assertOpen();
    return this.run(() => this.archiveOverflow(0));
  }

  /** Deletes archived shards past the retention; returns how many entries went. */
  applyRetention(): Promise<number> {
    return this.run(() => this.retention());
  }

  private async retention(): Promise<number> {
    const days = this.options.retentionDays ?? 0;
    if (days <= 0) return 0;
    const removed = await this.archive.applyRetention(this.clock.now() - days * 86_400_000);
    return removed.reduce((sum, shard) => sum + shard.count, 0);
  }

  /** What to do when the user is idle: archive, apply retention, compact, close the shards. */
  async onIdle(): Promise<void> {
    this.assertOpen();
    await this.run(async () => {
      await this.archiveOverflow(0);
      await this.retention();
      if (this.active.journalRecords > 0) await this.active.compact();
      this.archive.closeShards();
    });
  }

  async compact(): Promise<void> {
    this.assertOpen();
    await this.run(() => this.active.compact());
  }

  /** A page of the active history, sorted by any column. */
  page(request: { filter?: HistoryFilter; sort?: SortColumn; direction?: SortDirection; limit?: number; cursor?: string } = {}): Page {
    this.assertOpen();
    return this.active.page(request);
  }

  /** A page of the archive, newest or oldest first. */
  archivePage(request: { filter?: HistoryFilter; direction?: SortDirection; limit?: number; cursor?: string } = {}): Promise<ArchivePage> {
    this.assertOpen();
    return this.archive.page(request);
  }

  /** Copies an archived entry into the active history as its newest entry; the archive does not change. */
  async restore(shard: string, jobId: string): Promise<HistoryEntry> {
    this.assertOpen();
    const entry = await this.archive.get(shard, jobId);
    if (!entry) throw new HistoryError('invalidEntry', `No archived entry ${jobId} in ${shard}.`);
    const restored = { ...entry, restoredFrom: shard };
    await this.active.commit([{ t: 'add', entry: restored }]);
    return restored;
  }

  statistics(request: StatisticsRequest): Promise<HistoryStatistics> {
    this.assertOpen();
    return computeStatistics(this.active, this.archive, { now: this.clock.now(), ...request });
  }

  earlierRuns(job: Pick<HistoryEntry, 'command' | 'stages'>, request?: EarlierRunsRequest): Promise<HistoryEntry[]> {
    this.assertOpen();
    return findEarlierRuns(this.active, this.archive, job, request);
  }

  estimateDuration(job: Pick<HistoryEntry, 'command' | 'stages' | 'name'>): Promise<DurationEstimate | undefined> {
    this.assertOpen();
    return estimateDuration(this.active, this.archive, job);
  }

  private assertOpen(): void {
    if (this.closed) throw new HistoryError('closed', 'The job history is closed.');
  }

  /**
   * Waits for maintenance, compacts (the shutdown fold), then frees every database. With
   * `compact: false` nothing more is written: for a process that lost its claim to the history
   * (another holder may have opened it), where a fold of this copy would overwrite newer entries.
   */
  async close(options: { compact?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.maintenance;
    this.closed = true;
    try {
      if (options.compact !== false && this.active.journalRecords > 0) await this.active.compact();
    } finally {
      this.archive.close();
      await this.active.close();
    }
  }
}
