import type { DurableCodec } from '../storage/durableRecovery';
import { StorageError } from '../storage/errors';
import { entryColumns, entryToRow } from './historyEntry';
import { HistoryError } from './historyErrors';
import type { HistoryRecord } from './historyLog';
import { decodeHistoryRecord, encodeHistoryRecord } from './historyLog';
import { migrate, migrateNow, schemaVersion } from './schema';
import type { MigrateOptions } from './schema';
import type { Database, SqlJsStatic, SqlValue, Statement } from './sqlLoader';

export interface HistoryCodecOptions {
  /** The automatic backup before a migration: receives the image as it was. */
  readonly beforeMigrate?: (image: Uint8Array, fromVersion: number, toVersion: number) => Promise<void>;
  readonly migrations?: MigrateOptions['migrations'];
  readonly targetVersion?: number;
}

/**
 * The active history's state as the durable store holds it: one sql.js database and the
 * statements that apply records to it. Created lazily, because the store asks for an empty
 * state before it knows whether a snapshot exists, and every open database costs memory.
 */
export class HistoryDatabase {
  private handle: { db: Database; insert: Statement; deleteJob: Statement; setMeta: Statement; columns: readonly string[] } | undefined;
  private rowCount: number | undefined;
  private closed = false;

  constructor(
    private readonly SQL: SqlJsStatic,
    private readonly options: HistoryCodecOptions,
    db?: Database,
  ) {
    if (db) this.handle = prepare(db);
  }

  get db(): Database {
    if (this.closed) throw new HistoryError('closed', 'The job history is closed.');
    if (!this.handle) {
      const db = new this.SQL.Database();
      try {
        configure(db);
        migrateNow(db, this.options);
      } catch (error) {
        db.close();
        throw error;
      }
      this.handle = prepare(db);
    }
    return this.handle.db;
  }

  get appliedSeq(): number {
    return Number(metaValue(this.db, 'appliedSeq') ?? 0);
  }
  get archivedBatch(): number {
    return Number(metaValue(this.db, 'archivedBatch') ?? 0);
  }
  /** Kept in memory: `count(*)` scans the table, and append must not cost more as the history grows. */
  get count(): number {
    this.rowCount ??= Number(this.db.exec('SELECT count(*) FROM entries')[0]?.values[0]?.[0] ?? 0);
    return this.rowCount;
  }

  /** Idempotent by job id: an add replaces the same job's row, a drop of an absent job does nothing. */
  apply(record: HistoryRecord): void {
    const db = this.db;
    const { insert, deleteJob, setMeta, columns } = this.handle as NonNullable<HistoryDatabase['handle']>;
    db.exec('SAVEPOINT apply');
    try {
      if (record.t === 'add') {
        const row = entryToRow(record.entry) as Record<string, SqlValue>;
        deleteJob.run([record.entry.jobId]);
        const replaced = db.getRowsModified();
        insert.run([record.seq, ...columns.map((column) => row[column] ?? null)]);
        if (this.rowCount !== undefined) this.rowCount += 1 - replaced;
      } else {
        for (const jobId of record.jobIds) {
          deleteJob.run([jobId]);
          if (this.rowCount !== undefined) this.rowCount -= db.getRowsModified();
        }
        if (record.batch > this.archivedBatch) setMeta.run(['archivedBatch', record.batch]);
      }
      setMeta.run(['appliedSeq', record.seq]);
      db.exec('RELEASE apply');
    } catch (error) {
      db.exec('ROLLBACK TO apply; RELEASE apply');
      this.rowCount = undefined;
      throw error;
    }
  }

  /** The whole image: only compaction and backups ask for it. */
  export(): Uint8Array {
    return this.db.export();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.handle) return;
    this.handle.insert.free();
    this.handle.deleteJob.free();
    this.handle.setMeta.free();
    this.handle.db.close();
    this.handle = undefined;
  }
}

/**
 * The storage core's codec for the history: records are JSON, the snapshot is the binary sql.js
 * export, taken synchronously at the compaction barrier (no write transaction is ever open
 * between two applies). `migrated` is set when a snapshot was brought up to the current schema.
 */
export function historyCodec(
  SQL: SqlJsStatic,
  options: HistoryCodecOptions = {},
): { codec: DurableCodec<HistoryDatabase, HistoryRecord>; migrated: () => { from: number; to: number } | undefined } {
  let migrated: { from: number; to: number } | undefined;
  const codec: DurableCodec<HistoryDatabase, HistoryRecord> = {
    empty: () => new HistoryDatabase(SQL, options),
    apply(state, record) {
      state.apply(record);
      return state;
    },
    encodeRecord: encodeHistoryRecord,
    decodeRecord: decodeHistoryRecord,
    snapshot(state) {
      const image = state.export();
      return async () => image;
    },
    async decodeSnapshot(payload) {
      // Not a database: a plain Error, which the store treats as damage (quarantine, then backup).
      const db = openImage(SQL, payload);
      try {
        configure(db);
        const result = await migrate(db, {
          targetVersion: options.targetVersion,
          migrations: options.migrations,
          beforeMigrate: async (from, to) => {
            if (options.beforeMigrate) await options.beforeMigrate(payload, from, to);
          },
        });
        if (result.from > 0 && result.from !== result.to) migrated = result;
      } catch (error) {
        db.close();
        // Intact but newer, or a migration that rolled back: the store must leave the file alone.
        if (HistoryError.is(error, 'unsupportedVersion') || HistoryError.is(error, 'migrationFailed')) {
          throw new StorageError(error.reason === 'unsupportedVersion' ? 'unsupportedVersion' : 'migrationFailed', error.message, {
            cause: error,
          });
        }
        throw error;
      }
      return new HistoryDatabase(SQL, options, db);
    },
    dispose: (state) => state.close(),
  };
  return { codec, migrated: () => migrated };
}

/** Undoes historyCodec's wrapping, so callers of the history see HistoryError as before. */
export function unwrapHistoryError(error: unknown): unknown {
  if (StorageError.is(error) && HistoryError.is(error.cause)) return error.cause;
  return error;
}

function configure(db: Database): void {
  // Durability is the journal's job. SQLite's own rollback journal would be a file in
  // emscripten's in-memory FS, created and written on every transaction: a third of an append.
  db.exec('PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY;');
}

function prepare(db: Database): NonNullable<HistoryDatabase['handle']> {
  const present = new Set(selectColumn(db, "SELECT name FROM pragma_table_info('entries')"));
  const columns = entryColumns.filter((column) => present.has(column));
  return {
    db,
    columns,
    insert: db.prepare(`INSERT INTO entries(seq, ${columns.join(', ')}) VALUES (?, ${columns.map(() => '?').join(', ')})`),
    deleteJob: db.prepare('DELETE FROM entries WHERE job_id = ?'),
    setMeta: db.prepare('INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)'),
  };
}

function selectColumn(db: Database, sql: string): string[] {
  return (db.exec(sql)[0]?.values ?? []).map((row) => String(row[0]));
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

/** Opens an image and proves it is a history database; throws when it is not (the store quarantines it). */
function openImage(SQL: SqlJsStatic, image: Uint8Array): Database {
  const db = new SQL.Database(image);
  try {
    db.exec('SELECT count(*) FROM sqlite_master');
    if (schemaVersion(db) > 0) db.exec('SELECT value FROM meta LIMIT 1; SELECT seq FROM entries LIMIT 1');
    return db;
  } catch (error) {
    db.close();
    throw new Error(`the history snapshot is not a readable database (${(error as Error).message})`, { cause: error });
  }
}
