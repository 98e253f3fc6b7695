import type { Database } from './sqlLoader';
import { HistoryError } from './historyErrors';

/** The schema version this code writes. Each version is one entry in `activeMigrations`. */
export const currentSchemaVersion = 2;

export interface Migration {
  /** The version this step produces; steps run in ascending order. */
  readonly version: number;
  readonly description: string;
  up(db: Database): void;
}

// Version 1. Frozen: it is also the code path that writes version-1 fixtures for the migration tests.
const activeV1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL, command TEXT, stages TEXT, cwd TEXT,
  state TEXT NOT NULL, attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER NOT NULL,
  estimated_ms REAL, duration_ms REAL, exit_code INTEGER, error TEXT,
  warnings TEXT NOT NULL, output_tail TEXT, files TEXT NOT NULL, checkpoints TEXT, tags TEXT NOT NULL,
  restored_from TEXT);
-- One index per query the History panel makes: newest first, by state, earlier runs of a command.
CREATE INDEX entries_finished ON entries(finished_at, seq);
CREATE INDEX entries_state ON entries(state, finished_at, seq);
CREATE INDEX entries_command ON entries(command, finished_at);
CREATE INDEX entries_name ON entries(name, finished_at);
CREATE TABLE entry_tags (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID;
-- FTS4 with external content: sql.js has no FTS5, and external content keeps one copy of the text.
CREATE VIRTUAL TABLE entries_fts USING fts4(content="entries", name, command, tokenize=unicode61);
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
  INSERT INTO entries_fts(docid, name, command) VALUES (new.seq, new.name, new.command);
  INSERT INTO entry_tags(tag, seq) SELECT DISTINCT value, new.seq FROM json_each(new.tags);
END;
CREATE TRIGGER entries_bd BEFORE DELETE ON entries BEGIN
  DELETE FROM entries_fts WHERE docid = old.seq;
  -- Through the primary key: a bare seq lookup would scan entry_tags once per deleted row.
  DELETE FROM entry_tags WHERE tag IN (SELECT value FROM json_each(old.tags)) AND seq = old.seq;
END;
INSERT INTO meta(key, value) VALUES ('appliedSeq', 0), ('archivedBatch', 0);
`;

export const activeMigrations: readonly Migration[] = [
  { version: 1, description: 'create the history tables', up: (db) => db.exec(activeV1) },
  {
    version: 2,
    description: 'add queue_wait_ms (time spent queued), backfilled from started_at - created_at',
    up: (db) => {
      db.exec(`ALTER TABLE entries ADD COLUMN queue_wait_ms INTEGER;
        UPDATE entries SET queue_wait_ms = started_at - created_at WHERE started_at IS NOT NULL;`);
    },
  },
];

export function schemaVersion(db: Database): number {
  const result = db.exec('PRAGMA user_version');
  return Number(result[0]?.values[0]?.[0] ?? 0);
}

export interface MigrateOptions {
  /** @default currentSchemaVersion */
  readonly targetVersion?: number;
  /** Replaces the built-in steps; tests use it to make a step fail. */
  readonly migrations?: readonly Migration[];
  /** Called before an existing database is migrated (not when one is created): take a backup here. */
  readonly beforeMigrate?: (fromVersion: number, toVersion: number) => Promise<void>;
}

/**
 * Brings `db` to the target version. A fresh database is created at it; an older one is migrated
 * after `beforeMigrate` (the automatic backup), all steps in one transaction: SQLite DDL is
 * transactional, so a failing step leaves the database exactly as it was, and we say so.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<{ from: number; to: number }> {
  const target = options.targetVersion ?? currentSchemaVersion;
  const from = checkVersion(db, target);
  if (from > 0 && from < target && options.beforeMigrate) await options.beforeMigrate(from, target);
  return migrateNow(db, options);
}

/** The same without the backup hook, synchronously: for a database just created, which has nothing to back up. */
export function migrateNow(db: Database, options: Omit<MigrateOptions, 'beforeMigrate'> = {}): { from: number; to: number } {
  const migrations = options.migrations ?? activeMigrations;
  const target = options.targetVersion ?? currentSchemaVersion;
  const from = checkVersion(db, target);
  if (from === target) return { from, to: target };
  const steps = migrations.filter((m) => m.version > from && m.version <= target).sort((a, b) => a.version - b.version);
  let step: Migration | undefined;
  db.exec('BEGIN');
  try {
    for (step of steps) step.up(db);
    db.exec(`PRAGMA user_version = ${target}`);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw new HistoryError(
      'migrationFailed',
      `Upgrading the job history from schema ${from} to ${target} failed at step ${step?.version ?? '?'} (${step?.description ?? ''}); it was left at schema ${from}.`,
      { cause: error },
    );
  }
  return { from, to: target };
}

function checkVersion(db: Database, target: number): number {
  const from = schemaVersion(db);
  if (from > target) {
    throw new HistoryError(
      'unsupportedVersion',
      `The job history was written by a newer Lifeline (schema ${from}; this one knows ${target}). Update Lifeline to open it.`,
    );
  }
  return from;
}

/**
 * A shard is written once and never migrated: it records its own version, and readers accept
 * every version up to the current one (rowToEntry reads a missing column as absent).
 */
export function createShardSchema(db: Database, version = currentSchemaVersion): void {
  const v2 = version >= 2 ? ', queue_wait_ms INTEGER' : '';
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE TABLE entries (
      id INTEGER PRIMARY KEY, job_id TEXT NOT NULL,
      name TEXT NOT NULL, command TEXT, stages TEXT, cwd TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL,
      created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER NOT NULL,
      estimated_ms REAL, duration_ms REAL, exit_code INTEGER, error TEXT,
      warnings TEXT NOT NULL, output_tail TEXT, files TEXT NOT NULL, checkpoints TEXT, tags TEXT NOT NULL,
      restored_from TEXT${v2});
    CREATE TABLE entry_tags (tag TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (tag, id)) WITHOUT ROWID;
    CREATE VIRTUAL TABLE entries_fts USING fts4(content="entries", name, command, tokenize=unicode61);
    PRAGMA user_version = ${version};`);
}

/** Indexes are built after the bulk insert: faster, and the pages come out packed. */
export function indexShard(db: Database): void {
  db.exec(`
    CREATE INDEX entries_finished ON entries(finished_at, job_id);
    CREATE INDEX entries_state ON entries(state, finished_at, job_id);
    CREATE INDEX entries_command ON entries(command, finished_at);
    CREATE INDEX entries_job ON entries(job_id);
    INSERT INTO entry_tags(tag, id) SELECT DISTINCT j.value, e.id FROM entries e, json_each(e.tags) j;
    INSERT INTO entries_fts(entries_fts) VALUES ('rebuild');
    INSERT INTO entries_fts(entries_fts) VALUES ('optimize');`);
}
