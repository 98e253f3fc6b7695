import { createHash } from 'node:crypto';
import { fsp as fs } from '../storage/storageFs';
import { mkdirDurable } from '../storage/atomicFile';
import { join } from 'node:path';
import type { Database, SqlJsStatic, SqlValue } from './sqlLoader';
import { jobFinalStates, rowToEntry } from './historyEntry';
import type { HistoryEntry, JobFinalState } from './historyEntry';
import { HistoryError } from './historyErrors';
import { decodeCursor, encodeCursor, filterSql, keysetSql, queryKey } from './historyQuery';
import type { HistoryFilter, SortDirection } from './historyQuery';
import { ShardCache } from './shardCache';
import type { ShardCacheOptions } from './shardCache';
import { emptyIndex, maxIndexedTags, readIndex, shardMayMatch, writeIndex } from './shardIndex';
import type { ArchiveIndex, ShardInfo } from './shardIndex';
import { writeShards } from './shardWriter';
import { isKeyProblem, openShardFile } from './shardSeal';
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

  private constructor(
    private readonly SQL: SqlJsStatic,
    readonly directory: string,
    private index: ArchiveIndex,
    cacheOptions: ShardCacheOptions,
    private readonly onLost: ((lost: LostShard) => void) | undefined,
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

  static async open(
    SQL: SqlJsStatic,
    directory: string,
    cacheOptions: ShardCacheOptions = {},
    onLost?: (lost: LostShard) => void,
  ): Promise<{ archive: Archive; lost: LostShard[]; indexRebuilt: boolean }> {
    await mkdirDurable(join(directory, 'shards'));
    let index: ArchiveIndex | undefined;
    let indexRebuilt = false;
    try {
      index = await readIndex(directory, cacheOptions.cipher);
    } catch (error) {
      if (!HistoryError.is(error, 'corruptIndex')) throw error;
      await quarantineFile(directory, join(directory, 'index.json'));
      const rebuilt = await rebuildIndex(SQL, join(directory, 'shards'), cacheOptions.cipher);
      index = rebuilt.index;
      indexRebuilt = true;
      // A shard file that does not open is damage, not a crash leftover: keep it for the user.
      for (const file of rebuilt.unreadable) await quarantineFile(directory, join(directory, 'shards', file));
    }
    const archive = new Archive(SQL, directory, index ?? emptyIndex(), cacheOptions, onLost);
    if (indexRebuilt) await writeIndex(directory, archive.index, cacheOptions.cipher);
    const lost = await archive.sweep();
    return { archive, lost, indexRebuilt };
  }

  /**
   * Removes what a crash left behind: temp files and shards not in the index (written, but the
   * index never named them, so their entries are still in the active history), and reports
   * indexed shards whose file is missing.
   */
  private async sweep(): Promise<LostShard[]> {
    const known = new Set(this.index.shards.map((shard) => shard.file));
    const present = new Set(await fs.readdir(this.shardsDir));
    for (const name of present) if (!known.has(name)) await fs.rm(join(this.shardsDir, name), { force: true });
    const missing = this.index.shards.filter((shard) => !present.has(shard.file));
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
    const shards = entries.length > 0 ? await writeShards(this.SQL, this.shardsDir, entries, batch, maxShardBytes, this.cipher) : [];
    this.index = { ...this.index, nextBatch: batch + 1, shards: [...this.index.shards, ...shards] };
    await writeIndex(this.directory, this.index, this.cipher);
    return { batch, shards };
  }

  /** Deletes whole shards that finished before `cutoff`: out of the index first, then off the disk. */
  async applyRetention(cutoff: number): Promise<ShardInfo[]> {
    const expired = this.index.shards.filter((shard) => shard.maxFinishedAt < cutoff);
    if (expired.length === 0) return [];
    this.index = { ...this.index, shards: this.index.shards.filter((shard) => shard.maxFinishedAt >= cutoff) };
    await writeIndex(this.directory, this.index, this.cipher);
    for (const shard of expired) {
      this.cache.forget(shard.file);
      await fs.rm(join(this.shardsDir, shard.file), { force: true });
    }
    return expired;
  }

  hasShard(file: string): boolean {
    return this.index.shards.some((shard) => shard.file === file);
  }

  /** Runs `query` on a verified shard; a damaged shard goes to quarantine and yields undefined. */
  async withShard<T>(shard: ShardInfo, query: (db: Database) => T): Promise<T | undefined> {
    let db: Database;
    try {
      db = await this.cache.get(shard);
    } catch (error) {
      if (!HistoryError.is(error, 'corruptShard')) throw error;
      await this.dropShard(shard, join(this.shardsDir, shard.file));
      return undefined;
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

  private async dropShard(shard: ShardInfo, path: string | undefined): Promise<void> {
    this.cache.forget(shard.file);
    let quarantinedTo: string | undefined;
    if (path) quarantinedTo = await quarantineFile(this.directory, path).catch(() => undefined);
    this.index = { ...this.index, shards: this.index.shards.filter((s) => s.file !== shard.file) };
    await writeIndex(this.directory, this.index, this.cipher);
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

async function quarantineFile(archiveDir: string, path: string): Promise<string> {
  const folder = join(archiveDir, 'quarantine');
  await fs.mkdir(folder, { recursive: true, mode: 0o700 });
  const target = join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${path.split(/[\\/]/).pop() ?? 'file'}`);
  await fs.rename(path, target);
  return target;
}

/** Rebuilds index.json from the shard files themselves, when the index is damaged. */
async function rebuildIndex(
  SQL: SqlJsStatic,
  shardsDir: string,
  cipher: RecordCipher | undefined,
): Promise<{ index: ArchiveIndex; unreadable: string[] }> {
  const index = emptyIndex();
  const unreadable: string[] = [];
  for (const file of (await fs.readdir(shardsDir)).filter((name) => name.endsWith('.shard')).sort()) {
    const bytes = await fs.readFile(join(shardsDir, file));
    let db: Database | undefined;
    try {
      db = new SQL.Database(await openShardFile(file, bytes, cipher));
      const summary = selectRows(db, 'SELECT count(*) AS n, min(finished_at) AS lo, max(finished_at) AS hi FROM entries', [])[0] ?? {};
      const states: Partial<Record<JobFinalState, number>> = {};
      for (const row of selectRows(db, 'SELECT state, count(*) AS n FROM entries GROUP BY state', [])) {
        if ((jobFinalStates as readonly string[]).includes(String(row.state))) states[row.state as JobFinalState] = Number(row.n);
      }
      const tags = selectRows(db, 'SELECT DISTINCT tag FROM entry_tags', []).map((row) => String(row.tag));
      const batch = Number(selectRows(db, "SELECT value FROM meta WHERE key = 'batch'", [])[0]?.value ?? 1);
      const version = Number(selectRows(db, 'PRAGMA user_version', [])[0]?.user_version ?? 1);
      index.shards.push({
        file,
        batch,
        month: file.slice(0, 7),
        schemaVersion: version,
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        count: Number(summary.n ?? 0),
        minFinishedAt: Number(summary.lo ?? 0),
        maxFinishedAt: Number(summary.hi ?? 0),
        states,
        tags: tags.length > maxIndexedTags ? null : tags.sort(),
      });
      index.nextBatch = Math.max(index.nextBatch, batch + 1);
    } catch (error) {
      // Without the right key a shard is intact but unreadable: refuse, never quarantine it.
      if (isKeyProblem(error)) throw error;
      unreadable.push(file);
    } finally {
      db?.close();
    }
  }
  return { index, unreadable };
}
