import type { StorageEvent } from '../storage/storeEvents';
import type { Database, SqlJsStatic, SqlValue } from './sqlLoader';
import { rowToEntry } from './historyEntry';
import type { HistoryEntry } from './historyEntry';
import { HistoryError } from './historyErrors';
import { historyCodec, unwrapHistoryError } from './historyDatabase';
import type { HistoryCodecOptions, HistoryDatabase } from './historyDatabase';
import type { HistoryLog, HistoryRecord, HistoryStore, UnsequencedRecord } from './historyLog';
import { decodeCursor, encodeCursor, filterSql, keysetSql, queryKey, sortColumns } from './historyQuery';
import type { HistoryFilter, Page, SortColumn, SortDirection } from './historyQuery';
import { schemaVersion } from './schema';
import { selectRows } from './selectRows';

export interface ActiveOpenReport {
  /** Set when the image was migrated: from and to schema version. */
  readonly migrated?: { readonly from: number; readonly to: number };
  /**
   * What the storage core found wrong while opening (torn tail cut, file quarantined, opened from a
   * backup, state lost), in order. Empty when everything verified.
   */
  readonly storageEvents: readonly StorageEvent[];
  /** The snapshot was damaged: it went here (quarantine/) and the history opened from what verifies. */
  readonly imageQuarantinedTo?: string;
  /** The history was rebuilt from the newest good backup plus the journal (after damage). */
  readonly recoveredFromBackup?: boolean;
  /** Something acknowledged could not be recovered: a file went to quarantine, or no good snapshot or backup was found. */
  readonly lost: boolean;
}

export type ActiveOpenOptions = HistoryCodecOptions;

/**
 * The active history: an in-memory sql.js database whose every change is first a journal record
 * (acknowledged when durable, then applied by the store) and whose whole image is exported only
 * when compacting.
 */
export class ActiveHistory {
  private closed = false;

  private constructor(
    private readonly store: HistoryStore<HistoryDatabase>,
    private lastSeq: number,
  ) {}

  static async open(
    SQL: SqlJsStatic,
    log: HistoryLog,
    options: ActiveOpenOptions = {},
  ): Promise<{ active: ActiveHistory; report: ActiveOpenReport }> {
    const { codec, migrated } = historyCodec(SQL, options);
    const opened = await log.open(codec).catch((error: unknown) => {
      throw unwrapHistoryError(error);
    });
    const active = new ActiveHistory(opened.store, 0);
    try {
      // Creates the database now when there was no snapshot (a fresh history).
      active.lastSeq = opened.store.state.appliedSeq;
      // A migrated image is written at once, so the next start neither migrates nor backs up again.
      if (migrated()) await active.compact();
    } catch (error) {
      await active.close();
      throw unwrapHistoryError(error);
    }
    const events = opened.events;
    const quarantined = events.find((event) => event.type === 'quarantined' && event.reason === 'corruptSnapshot');
    return {
      active,
      report: {
        migrated: migrated(),
        storageEvents: events,
        imageQuarantinedTo: quarantined?.type === 'quarantined' ? quarantined.quarantinePath : undefined,
        recoveredFromBackup: events.some((event) => event.type === 'recoveredFromBackup') || undefined,
        // Every open that returns less than was acknowledged raises dataLost; a repaired file is not a loss.
        lost: events.some((event) => event.type === 'dataLost' || event.type === 'stateLost'),
      },
    };
  }

  get db(): Database {
    return this.store.state.db;
  }
  get schemaVersion(): number {
    return schemaVersion(this.db);
  }
  get appliedSeq(): number {
    return this.store.state.appliedSeq;
  }
  get archivedBatch(): number {
    return this.store.state.archivedBatch;
  }
  get count(): number {
    return this.store.state.count;
  }

  /** Appends records durably; resolves when they are on disk and applied (in commit order). */
  async commit(records: readonly UnsequencedRecord[]): Promise<void> {
    this.assertOpen();
    const sequenced = records.map((record) => ({ ...record, seq: ++this.lastSeq }) as HistoryRecord);
    await this.store.commit(sequenced);
  }

  /** Folds the journal into a new snapshot. Appends continue meanwhile. */
  async compact(): Promise<void> {
    this.assertOpen();
    await this.store.compact();
  }

  get journalBytes(): number {
    return this.store.journalBytes;
  }
  /** Journal records the snapshot does not hold yet: compaction has work when this is above 0. */
  get journalRecords(): number {
    return this.store.journalRecords;
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
    return rows.length > limit && last
      ? { entries, nextCursor: encodeCursor({ q: key, v: last.sort_value ?? null, k: last.seq ?? null }) }
      : { entries };
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

  /** Waits for a running compaction, closes the journal, then frees the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.store.close();
    } finally {
      this.store.state.close();
    }
  }
}

export function clampLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(1000, Math.floor(limit ?? 50)));
}
