import { randomUUID } from 'node:crypto';
import { fsp as fs } from '../storage/storageFs';
import { mkdirDurable } from '../storage/atomicFile';
import { join } from 'node:path';
import type { Database, SqlJsStatic, SqlValue } from './sqlLoader';
import { rowToEntry } from './historyEntry';
import type { HistoryEntry } from './historyEntry';
import { HistoryError } from './historyErrors';
import { decodeCursor, encodeCursor, filterSql, keysetSql, queryKey } from './historyQuery';
import type { HistoryFilter, SortDirection } from './historyQuery';
import { ShardCache } from './shardCache';
import type { ShardCacheOptions } from './shardCache';
import { emptyIndex, readIndexFile, readIndexHints, shardMayMatch, writeIndex } from './shardIndex';
import type { ArchiveIndex, ShardInfo } from './shardIndex';
import { writeShards } from './shardWriter';
import { isAtomicTemp, isForeignIndex, quarantineFile, rebuildIndex } from './archiveRepair';
import type { ArchiveEvent } from './archiveRepair';
import { verifyShardFile } from './shardVerify';
import type { RecordCipher } from '../storage/cipher';
import { selectRows } from './selectRows';

/** A shard the caller must be told about: it failed its checksum (or vanished) and its entries are gone from view. */
export interface LostShard {
  readonly file: string;
  readonly month: string;
  readonly count: number;
  readonly minFinishedAt: number;
  readonly maxFinishedAt: number;
  /** Where the damaged file went; undefined when it was missing. */
  readonly quarantinedTo?: string;
}

export interface ArchivedEntry {
  readonly entry: HistoryEntry;
  /** The shard holding it: pass it to restore. */
  readonly shard: string;
}

export interface ArchivePage {
  readonly entries: readonly ArchivedEntry[];
  readonly nextCursor?: string;
  /** Shards found damaged while answering: their rows are missing from this and every later page. */
  readonly lost: readonly LostShard[];
}

/**
 * The archive: sealed, checksummed shard databases under archive/shards/, and index.json naming
 * them with their ranges, so a query opens only the shards that can hold its rows.
 */
export class Archive {
  private readonly cache: ShardCache;
  /** Losses found since the caller last took them. */
  private pendingLost: LostShard[] = [];
  /**
   * Whether the index in hand is the authority over its shards: it passed its own checksum, or
   * this archive wrote it. Then a shard that does not match its entry is the damaged (or
   * foreign) side, whatever it says of itself; only an older unchecked index can be the wrong one.
   */
  private indexChecked = false;

  private constructor(
    private readonly SQL: SqlJsStatic,
    readonly directory: string,
    private index: ArchiveIndex,
    cacheOptions: ShardCacheOptions,
    private readonly onLost: ((lost: LostShard) => void) | undefined,
    private readonly onEvent: ((event: ArchiveEvent) => void) | undefined,
  ) {
    this.cache = new ShardCache(SQL, this.shardsDir, cacheOptions);
    this.cipher = cacheOptions.cipher;
  }
  private readonly cipher: RecordCipher | undefined;

  get shardsDir(): string {
    return join(this.directory, 'shards');
  }
  get shards(): readonly ShardInfo[] {
    return this.index.shards;
  }
  get openShards(): number {
    return this.cache.openCount;
  }
  get count(): number {
    return this.index.shards.reduce((sum, shard) => sum + shard.count, 0);
  }

  /**
   * Opens the archive. A missing or damaged index.json is rebuilt from the shards that verify on
   * their own (a damaged one goes to quarantine first); every repair is an ArchiveEvent, every
   * loss a LostShard. Nothing that verifies is ever deleted (#16).
   */
  static async open(
    SQL: SqlJsStatic,
    directory: string,
    cacheOptions: ShardCacheOptions = {},
    onLost?: (lost: LostShard) => void,
    onEvent?: (event: ArchiveEvent) => void,
    /** What becomes of a verifying shard the index does not name: 'setAside' right after a backup restore. @default 'adopt' */
    unnamedShards: 'adopt' | 'setAside' = 'adopt',
  ): Promise<{ archive: Archive; lost: LostShard[]; indexRebuilt: boolean; events: ArchiveEvent[] }> {
    const shardsDir = join(directory, 'shards');
    await mkdirDurable(shardsDir);
    const events: ArchiveEvent[] = [];
    const report = (event: ArchiveEvent): void => {
      events.push(event);
      onEvent?.(event);
    };
    let index: ArchiveIndex | undefined;
    let checked = false;
    let damaged: { quarantinedTo: string; hints: ShardInfo[]; detail: string; foreign?: boolean } | undefined;
    try {
      ({ index, checked } = (await readIndexFile(directory, cacheOptions.cipher)) ?? { index: undefined, checked: false });
    } catch (error) {
      if (!HistoryError.is(error, 'corruptIndex')) throw error;
      // Read what the damaged index still says before it goes: it tells what a lost shard held.
      const hints = await readIndexHints(directory, cacheOptions.cipher);
      damaged = { quarantinedTo: await quarantineFile(directory, join(directory, 'index.json')), hints, detail: error.message };
    }
    if (index && (await isForeignIndex(SQL, shardsDir, index, cacheOptions.cipher))) {
      // Another store's index copied over ours: what it names is not ours, so it says nothing of what we lost.
      const quarantinedTo = await quarantineFile(directory, join(directory, 'index.json'));
      damaged = { quarantinedTo, hints: [], detail: `archive ${index.archiveId ?? ''}`, foreign: true };
      index = undefined;
    }
    // A missing index with shards beside it is a lost index, not a new archive: the shards are data.
    const rebuild = index === undefined && (damaged !== undefined || (await fs.readdir(shardsDir)).some((name) => name.endsWith('.shard')));
    const archive = new Archive(SQL, directory, index ?? emptyIndex(), cacheOptions, onLost, onEvent);
    archive.indexChecked = checked;
    if (rebuild) await archive.rebuildFromShards(damaged, report);
    const lost = await archive.sweep(report, unnamedShards);
    return { archive, lost, indexRebuilt: rebuild, events };
  }

  private async rebuildFromShards(
    damaged: { quarantinedTo: string; hints: ShardInfo[]; detail: string; foreign?: boolean } | undefined,
    report: (event: ArchiveEvent) => void,
  ): Promise<void> {
    const rebuilt = await rebuildIndex(this.SQL, this.shardsDir, this.cipher);
    this.index = rebuilt.index;
    await this.saveIndex();
    report({
      type: 'indexRebuilt',
      reason: damaged ? (damaged.foreign ? 'foreign' : 'damaged') : 'missing',
      quarantinedTo: damaged?.quarantinedTo,
      shards: this.index.shards.length,
      entries: this.count,
      detail: damaged?.foreign
        ? `the archive index was another history store's (${damaged.detail}); rebuilt from ${this.index.shards.length} shard(s) that verify`
        : damaged
          ? `the archive index was damaged (${damaged.detail}); rebuilt from ${this.index.shards.length} shard(s) that verify`
          : `the archive index was missing; rebuilt from ${this.index.shards.length} shard(s) that verify`,
    });
    const hints = damaged?.hints ?? [];
    for (const { file, detail } of rebuilt.unreadable) {
      // A shard file that does not verify is damage, not a crash leftover: keep it for the user.
      const quarantinedTo = await quarantineFile(this.directory, join(this.shardsDir, file));
      const hint = hints.find((shard) => shard.file === file);
      if (hint) this.reportLost(hint, quarantinedTo);
      else report({ type: 'unknownShardQuarantined', file, quarantinedTo, detail });
    }
    // Shards the damaged index still named whose files are gone.
    for (const hint of hints) {
      if (!this.hasShard(hint.file) && !rebuilt.unreadable.some((shard) => shard.file === hint.file)) this.reportLost(hint, undefined);
    }
  }

  /**
   * Settles every file in shards/ the index does not name, and every indexed shard that is
   * missing. Only temp files of an unfinished atomic write are deleted (never data: they never
   * reached their name). A shard that verifies on its own is adopted into the index (a crash
   * between sealing and indexing leaves one; reconcile() then drops its entries from the active
   * history); one that does not goes to quarantine. Files of other kinds are left alone. After a
   * backup restore a verifying unnamed shard is newer than the backup: it is set aside instead.
   */
  private async sweep(report: (event: ArchiveEvent) => void, unnamedShards: 'adopt' | 'setAside'): Promise<LostShard[]> {
    const known = new Set(this.index.shards.map((shard) => shard.file));
    const present = (await fs.readdir(this.shardsDir)).sort();
    let adopted = false;
    for (const name of present) {
      if (known.has(name)) continue;
      if (isAtomicTemp(name)) {
        await fs.rm(join(this.shardsDir, name), { force: true });
        report({ type: 'leftoverRemoved', file: name });
        continue;
      }
      if (!name.endsWith('.shard')) continue;
      const check = await verifyShardFile(this.SQL, this.shardsDir, name, this.cipher);
      if (check.ok && !this.isOurs(check.archiveId)) {
        const quarantinedTo = await quarantineFile(this.directory, join(this.shardsDir, name));
        report({
          type: 'unknownShardQuarantined',
          file: name,
          quarantinedTo,
          detail: `it verifies but belongs to another archive (${check.archiveId ?? ''})`,
        });
      } else if (check.ok && unnamedShards === 'setAside') {
        report({
          type: 'shardSetAside',
          shard: check.info,
          quarantinedTo: await quarantineFile(this.directory, join(this.shardsDir, name)),
        });
      } else if (check.ok) {
        this.index = {
          ...this.index,
          // An older archive takes the name its first named shard was sealed with (a crash before its index said it).
          archiveId: this.index.archiveId ?? check.archiveId,
          nextBatch: Math.max(this.index.nextBatch, check.info.batch + 1),
          shards: [...this.index.shards, check.info],
        };
        adopted = true;
        report({ type: 'shardAdopted', shard: check.info });
      } else {
        const quarantinedTo = await quarantineFile(this.directory, join(this.shardsDir, name));
        report({ type: 'unknownShardQuarantined', file: name, quarantinedTo, detail: check.detail });
      }
    }
    if (adopted) await this.saveIndex();
    const missing = this.index.shards.filter((shard) => !present.includes(shard.file));
    for (const shard of missing) await this.dropShard(shard, undefined);
    return this.takeLost();
  }

  /** Losses found since the last call, to tell the user once. */
  takeLost(): LostShard[] {
    const lost = this.pendingLost;
    this.pendingLost = [];
    return lost;
  }

  /** Seals a batch: shards first, then the index naming them (each written atomically). */
  async addBatch(entries: readonly HistoryEntry[], maxShardBytes: number): Promise<{ batch: number; shards: ShardInfo[] }> {
    const batch = this.index.nextBatch;
    // An older archive is named when it next seals: the index naming it is written after its shards.
    if (this.index.archiveId === undefined) this.index = { ...this.index, archiveId: randomUUID() };
    const shards =
      entries.length > 0
        ? await writeShards(this.SQL, this.shardsDir, entries, batch, maxShardBytes, this.cipher, this.index.archiveId)
        : [];
    this.index = { ...this.index, nextBatch: batch + 1, shards: [...this.index.shards, ...shards] };
    await this.saveIndex();
    return { batch, shards };
  }

  /** Deletes whole shards that finished before `cutoff`: out of the index first, then off the disk. */
  async applyRetention(cutoff: number): Promise<ShardInfo[]> {
    const expired = this.index.shards.filter((shard) => shard.maxFinishedAt < cutoff);
    if (expired.length === 0) return [];
    this.index = { ...this.index, shards: this.index.shards.filter((shard) => shard.maxFinishedAt >= cutoff) };
    await this.saveIndex();
    for (const shard of expired) {
      this.cache.forget(shard.file);
      await fs.rm(join(this.shardsDir, shard.file), { force: true });
    }
    return expired;
  }

  /** Writes the index in hand; from then on it is the authority over its shards. */
  private async saveIndex(): Promise<void> {
    await writeIndex(this.directory, this.index, this.cipher);
    this.indexChecked = true;
  }

  /** A shard that names no archive is an older one, ours; one that names another is some other store's. */
  private isOurs(archiveId: string | undefined): boolean {
    return archiveId === undefined || this.index.archiveId === undefined || archiveId === this.index.archiveId;
  }

  hasShard(file: string): boolean {
    return this.index.shards.some((shard) => shard.file === file);
  }

  /**
   * Runs `query` on a verified shard; a damaged shard goes to quarantine and yields undefined.
   * When the shard fails the size or sha256 of an older, unchecked index but verifies against its
   * own content, the index entry was the damaged one: it is replaced (reported) and the shard is
   * used. A checked index is the authority: the shard is the damaged or foreign side (#16).
   */
  async withShard<T>(indexed: ShardInfo, query: (db: Database) => T): Promise<T | undefined> {
    let shard = indexed;
    let db: Database;
    try {
      db = await this.cache.get(shard);
    } catch (error) {
      if (!HistoryError.is(error, 'corruptShard')) throw error;
      const repaired = await this.repairEntry(shard);
      if (!repaired) {
        await this.dropShard(shard, join(this.shardsDir, shard.file));
        return undefined;
      }
      shard = repaired;
      try {
        db = await this.cache.get(shard);
      } catch (retryError) {
        if (!HistoryError.is(retryError, 'corruptShard')) throw retryError;
        await this.dropShard(shard, join(this.shardsDir, shard.file));
        return undefined;
      }
    }
    try {
      return query(db);
    } catch (error) {
      // The bytes matched their sha256 but SQLite still refuses them: written damaged. Same treatment.
      if (!/malformed|not a database|corrupt/i.test(String(error))) throw error;
      await this.dropShard(shard, join(this.shardsDir, shard.file));
      return undefined;
    }
  }

  /**
   * The index entry of a shard that failed it, replaced by what the shard says of itself, when
   * the shard passes its own content checksum (or seal). An older shard without one cannot tell
   * index damage from its own: undefined, and it is treated as damaged, as before.
   */
  private async repairEntry(shard: ShardInfo): Promise<ShardInfo | undefined> {
    this.cache.forget(shard.file);
    // A checked index entry cannot be damaged unseen: a shard that verifies but does not match it is another's.
    if (this.indexChecked) return undefined;
    const check = await verifyShardFile(this.SQL, this.shardsDir, shard.file, this.cipher);
    if (!check.ok || !check.selfChecked || !this.isOurs(check.archiveId)) return undefined;
    this.index = { ...this.index, shards: this.index.shards.map((s) => (s.file === shard.file ? check.info : s)) };
    await this.saveIndex();
    this.onEvent?.({
      type: 'indexEntryRepaired',
      file: shard.file,
      detail: `${shard.file} did not match its index entry but verifies against its own content: its entries are intact and the entry was replaced`,
    });
    return check.info;
  }

  private async dropShard(shard: ShardInfo, path: string | undefined): Promise<void> {
    this.cache.forget(shard.file);
    let quarantinedTo: string | undefined;
    if (path) quarantinedTo = await quarantineFile(this.directory, path).catch(() => undefined);
    this.index = { ...this.index, shards: this.index.shards.filter((s) => s.file !== shard.file) };
    await this.saveIndex();
    this.reportLost(shard, quarantinedTo);
  }

  /** Tells the caller a shard's entries are gone: exactly how many, and their time range. */
  private reportLost(shard: ShardInfo, quarantinedTo: string | undefined): void {
    const lost: LostShard = {
      file: shard.file,
      month: shard.month,
      count: shard.count,
      minFinishedAt: shard.minFinishedAt,
      maxFinishedAt: shard.maxFinishedAt,
      quarantinedTo,
    };
    this.pendingLost.push(lost);
    this.onLost?.(lost);
  }

  /**
   * One page, newest or oldest first, across shards: they are visited by their range, and the
   * walk stops as soon as no further shard can hold a row that sorts before the page's last.
   */
  async page(request: { filter?: HistoryFilter; direction?: SortDirection; limit?: number; cursor?: string } = {}): Promise<ArchivePage> {
    const filter = request.filter ?? {};
    const direction = request.direction ?? 'desc';
    const limit = Math.max(1, Math.min(1000, Math.floor(request.limit ?? 50)));
    const key = queryKey(['archive', filter, direction]);
    const cursor = request.cursor === undefined ? undefined : decodeCursor(request.cursor, key);
    const bound = cursor ? Number(cursor.v) : undefined;
    const desc = direction === 'desc';
    const candidates = this.index.shards
      .filter(
        (shard) =>
          shardMayMatch(shard, filter) && (bound === undefined || (desc ? shard.minFinishedAt <= bound : shard.maxFinishedAt >= bound)),
      )
      .sort((a, b) => (desc ? b.maxFinishedAt - a.maxFinishedAt : a.minFinishedAt - b.minFinishedAt));
    const { where, params } = filterSql(filter, 'id');
    if (cursor) {
      where.push(keysetSql('finished_at', 'job_id', direction));
      params.push(cursor.v, cursor.v, cursor.k);
    }
    const sql = `SELECT * FROM entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY finished_at ${direction}, job_id ${direction} LIMIT ?`;
    let rows: { row: Record<string, SqlValue>; shard: string }[] = [];
    for (const shard of candidates) {
      const boundary = rows[limit]?.row;
      if (boundary && (desc ? shard.maxFinishedAt < Number(boundary.finished_at) : shard.minFinishedAt > Number(boundary.finished_at))) {
        break;
      }
      const found = await this.withShard(shard, (db) => selectRows(db, sql, [...params, limit + 1]));
      if (!found) continue;
      rows = rows
        .concat(found.map((row) => ({ row, shard: shard.file })))
        .sort((a, b) => compareRows(a.row, b.row, desc))
        .slice(0, limit + 1);
    }
    const entries = rows.slice(0, limit).map(({ row, shard }) => ({ entry: rowToEntry(row), shard }));
    const last = rows[limit - 1]?.row;
    const nextCursor =
      rows.length > limit && last ? encodeCursor({ q: key, v: last.finished_at ?? null, k: last.job_id ?? null }) : undefined;
    return { entries, nextCursor, lost: this.takeLost() };
  }

  /** One archived entry, for restoring it. */
  async get(file: string, jobId: string): Promise<HistoryEntry | undefined> {
    const shard = this.index.shards.find((s) => s.file === file);
    if (!shard) return undefined;
    const rows = await this.withShard(shard, (db) => selectRows(db, 'SELECT * FROM entries WHERE job_id = ? LIMIT 1', [jobId]));
    const row = rows?.[0];
    return row ? rowToEntry(row) : undefined;
  }

  /** Runs a read query on every shard that may match `filter`, newest shard first. */
  async *select(
    filter: HistoryFilter,
    sql: string,
    params: SqlValue[],
    maxShards = Number.POSITIVE_INFINITY,
  ): AsyncGenerator<Record<string, SqlValue>[]> {
    const shards = this.index.shards
      .filter((shard) => shardMayMatch(shard, filter))
      .sort((a, b) => b.maxFinishedAt - a.maxFinishedAt)
      .slice(0, maxShards);
    for (const shard of shards) {
      const rows = await this.withShard(shard, (db) => selectRows(db, sql, params));
      if (rows) yield rows;
    }
  }

  /** Which of `jobIds` one shard holds: what reconciling an interrupted archival drops from the active history. */
  async jobIdsAmong(shard: ShardInfo, jobIds: readonly string[]): Promise<string[]> {
    const rows = await this.withShard(shard, (db) =>
      selectRows(db, 'SELECT job_id FROM entries WHERE job_id IN (SELECT value FROM json_each(?))', [JSON.stringify(jobIds)]),
    );
    return (rows ?? []).map((row) => String(row.job_id));
  }

  closeShards(): void {
    this.cache.closeAll();
  }

  close(): void {
    this.cache.closeAll();
  }
}

function compareRows(a: Record<string, SqlValue>, b: Record<string, SqlValue>, desc: boolean): number {
  const byTime = Number(a.finished_at) - Number(b.finished_at);
  const order = byTime !== 0 ? byTime : String(a.job_id) < String(b.job_id) ? -1 : String(a.job_id) > String(b.job_id) ? 1 : 0;
  return desc ? -order : order;
}
