import type { Database, SqlJsStatic, SqlValue, Statement } from './sqlLoader';
import { entryColumns, entryToRow, rowToEntry } from './historyEntry';
import type { HistoryEntry } from './historyEntry';
import { HistoryError } from './historyErrors';
import type { HistoryLog, HistoryRecord, LogDamage, UnsequencedRecord } from './historyLog';
import { decodeCursor, encodeCursor, filterSql, keysetSql, queryKey, sortColumns } from './historyQuery';
import type { HistoryFilter, Page, SortColumn, SortDirection } from './historyQuery';
import { migrate, schemaVersion } from './schema';
import { selectRows } from './selectRows';
import type { MigrateOptions } from './schema';

export interface ActiveOpenReport {
  /** Set when the image was migrated: from and to schema version. */
  readonly migrated?: { readonly from: number; readonly to: number };
  /** The image failed its checksum or did not open: it went to quarantine and the history opened from the journal alone. */
  readonly imageQuarantinedTo?: string;
  readonly journalDamage?: LogDamage;
}

export interface ActiveOpenOptions {
  /** The automatic backup before a migration: receives the image as it was. */
  readonly beforeMigrate?: (image: Uint8Array, fromVersion: number, toVersion: number) => Promise<void>;
  readonly migrations?: MigrateOptions['migrations'];
  readonly targetVersion?: number;
}

/**
 * The active history: an in-memory sql.js database whose every change is first a journal record
 * (acknowledged when durable) and whose whole image is exported only when compacting.
 */
export class ActiveHistory {
  private readonly insert: Statement;
  private readonly deleteJob: Statement;
  private readonly setMeta: Statement;
  private closed = false;

  private constructor(
    readonly db: Database,
    private readonly log: HistoryLog,
    private lastSeq: number,
  ) {
    this.appliedUpTo = lastSeq;
    const columns = entryColumns.filter((column) => this.hasColumn(column));
    this.insert = db.prepare(`INSERT INTO entries(seq, ${columns.join(', ')}) VALUES (?, ${columns.map(() => '?').join(', ')})`);
    this.insertColumns = columns;
    this.deleteJob = db.prepare('DELETE FROM entries WHERE job_id = ?');
    this.setMeta = db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)');
  }
  private readonly insertColumns: readonly (typeof entryColumns)[number][];

  static async open(SQL: SqlJsStatic, log: HistoryLog, options: ActiveOpenOptions = {}): Promise<{ active: ActiveHistory; report: ActiveOpenReport }> {
    let image: Uint8Array | undefined;
    let imageQuarantinedTo: string | undefined;
    try {
      image = await log.readImage();
    } catch (error) {
      if (!HistoryError.is(error, 'corruptActive')) throw error;
      imageQuarantinedTo = await log.quarantineImage('checksum');
    }
    let db = openImage(SQL, image);
    if (!db) {
      imageQuarantinedTo = await log.quarantineImage('unreadable');
      db = new SQL.Database();
    }
    // Durability is our journal's job. SQLite's own rollback journal would be a file in
    // emscripten's in-memory FS, created and written on every transaction: a third of an append.
    db.exec('PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY;');
    let migrated: { from: number; to: number } | undefined;
    try {
      const result = await migrate(db, {
        targetVersion: options.targetVersion,
        migrations: options.migrations,
        beforeMigrate: async (from, to) => {
          if (image && options.beforeMigrate) await options.beforeMigrate(image, from, to);
        },
      });
      if (result.from > 0 && result.from !== result.to) migrated = result;
    } catch (error) {
      db.close();
      throw error;
    }
    const appliedSeq = Number(metaValue(db, 'appliedSeq') ?? 0);
    const active = new ActiveHistory(db, log, appliedSeq);
    const { records, damage } = await log.replay();
    for (const record of records) if (record.seq > appliedSeq) active.apply(record);
    // A migrated image is written at once, so the next start neither migrates nor backs up again.
    if (migrated) await active.compact();
    return { active, report: { migrated, imageQuarantinedTo, journalDamage: damage } };
  }

  private hasColumn(name: string): boolean {
    const result = this.db.exec(`SELECT 1 FROM pragma_table_info('entries') WHERE name = '${name}'`);
    return result.length > 0;
  }

  get schemaVersion(): number {
    return schemaVersion(this.db);
  }
  get appliedSeq(): number {
    return this.appliedUpTo;
  }
  get archivedBatch(): number {
    return Number(metaValue(this.db, 'archivedBatch') ?? 0);
  }
  /** Kept in memory: `count(*)` scans the table, and append must not cost more as the history grows. */
  get count(): number {
    if (this.rowCount === undefined) this.rowCount = Number(this.db.exec('SELECT count(*) FROM entries')[0]?.values[0]?.[0] ?? 0);
    return this.rowCount;
  }
  private rowCount: number | undefined;

  /** Appends records durably, then applies them. Resolves when they are on disk and visible. */
  async commit(records: readonly UnsequencedRecord[]): Promise<void> {
    this.assertOpen();
    const sequenced = records.map((record) => ({ ...record, seq: ++this.lastSeq }) as HistoryRecord);
    const appended = this.log.append(sequenced);
    // Apply in seq order whatever order the appends settle in: the image's appliedSeq must mean
    // "every record up to here", or a compaction would truncate a record the image lacks.
    const applied = this.applying.then(() => appended).then(() => {
      for (const record of sequenced) this.apply(record);
    });
    this.applying = applied.catch(() => undefined);
    await applied;
  }
  private applying: Promise<void> = Promise.resolve();
  /** Every record up to this seq is in the database (records past it may be on their way to disk). */
  private appliedUpTo: number;

  /** Idempotent by job id: an add replaces the same job's row, a drop of an absent job does nothing. */
  private apply(record: HistoryRecord): void {
    this.db.exec('SAVEPOINT apply');
    try {
      if (record.t === 'add') {
        const row = entryToRow(record.entry);
        this.deleteJob.run([record.entry.jobId]);
        const replaced = this.db.getRowsModified();
        this.insert.run([record.seq, ...this.insertColumns.map((column) => row[column])]);
        if (this.rowCount !== undefined) this.rowCount += 1 - replaced;
      } else {
        for (const jobId of record.jobIds) {
          this.deleteJob.run([jobId]);
          if (this.rowCount !== undefined) this.rowCount -= this.db.getRowsModified();
        }
        if (record.batch > this.archivedBatch) this.setMeta.run(['archivedBatch', record.batch]);
      }
      this.setMeta.run(['appliedSeq', record.seq]);
      this.db.exec('RELEASE apply');
    } catch (error) {
      this.db.exec('ROLLBACK TO apply; RELEASE apply');
      this.rowCount = undefined;
      throw error;
    }
    this.lastSeq = Math.max(this.lastSeq, record.seq);
    this.appliedUpTo = Math.max(this.appliedUpTo, record.seq);
  }

  /** Folds the journal into a new image. Appends may continue meanwhile; only records up to the export are dropped. */
  async compact(): Promise<void> {
    this.assertOpen();
    const upTo = this.appliedUpTo;
    const bytes = this.db.export();
    await this.log.writeImage(bytes);
    await this.log.truncate(upTo);
  }

  get journalBytes(): number {
    return this.log.journalBytes;
  }

  /** The oldest entries past `keep`, by order of arrival: what archival moves out. */
  overflow(keep: number, limit: number): HistoryEntry[] {
    const excess = this.count - keep;
    return excess <= 0 ? [] : this.all('SELECT * FROM entries ORDER BY seq ASC LIMIT ?', [Math.min(excess, limit)]);
  }

  page(request: { filter?: HistoryFilter; sort?: SortColumn; direction?: SortDirection; limit?: number; cursor?: string }): Page {
    const sort = request.sort ?? 'added';
    const direction = request.direction ?? 'desc';
    const limit = clampLimit(request.limit);
    const column = sortColumns[sort];
    if (!column) throw new HistoryError('invalidCursor', `Cannot sort by ${String(sort)}.`);
    const valueSql = column.nullable ? `ifnull(${column.sql}, -1e308)` : column.sql;
    const { where, params } = filterSql(request.filter ?? {}, 'seq');
    const key = queryKey(['active', request.filter ?? {}, sort, direction]);
    if (request.cursor !== undefined) {
      const cursor = decodeCursor(request.cursor, key);
      where.push(keysetSql(valueSql, 'seq', direction));
      params.push(cursor.v, cursor.v, cursor.k);
    }
    const sql = `SELECT *, ${valueSql} AS sort_value FROM entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${valueSql} ${direction}, seq ${direction} LIMIT ?`;
    const rows = this.rows(sql, [...params, limit + 1]);
    const entries = rows.slice(0, limit).map(rowToEntry);
    const last = rows[limit - 1];
    return rows.length > limit && last ? { entries, nextCursor: encodeCursor({ q: key, v: last.sort_value ?? null, k: last.seq ?? null }) } : { entries };
  }

  /** Runs a read query and returns plain rows; the statement is always freed. */
  rows(sql: string, params: SqlValue[] = []): Record<string, SqlValue>[] {
    return selectRows(this.db, sql, params);
  }

  all(sql: string, params: SqlValue[] = []): HistoryEntry[] {
    return this.rows(sql, params).map(rowToEntry);
  }

  private assertOpen(): void {
    if (this.closed) throw new HistoryError('closed', 'The job history is closed.');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.insert.free();
    this.deleteJob.free();
    this.setMeta.free();
    this.db.close();
  }
}

export function clampLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(1000, Math.floor(limit ?? 50)));
}

function metaValue(db: Database, key: string): SqlValue | undefined {
  const statement = db.prepare('SELECT value FROM meta WHERE key = ?');
  try {
    statement.bind([key]);
    return statement.step() ? statement.get()[0] : undefined;
  } finally {
    statement.free();
  }
}

/** Opens an image and proves it is a database; undefined when it is not (the caller quarantines it). */
function openImage(SQL: SqlJsStatic, image: Uint8Array | undefined): Database | undefined {
  if (!image) return new SQL.Database();
  let db: Database | undefined;
  try {
    db = new SQL.Database(image);
    db.exec('SELECT count(*) FROM sqlite_master');
    if (schemaVersion(db) > 0) db.exec('SELECT value FROM meta LIMIT 1; SELECT seq FROM entries LIMIT 1');
    return db;
  } catch {
    db?.close();
    return undefined;
  }
}
