import type { SqlValue } from './sqlLoader';
import type { HistoryEntry, JobFinalState } from './historyEntry';
import { HistoryError } from './historyErrors';

/** Which entries a query wants. Every field narrows; an empty filter matches everything. */
export interface HistoryFilter {
  /** Words searched in name and command (FTS4, prefix match per word, all words must match). */
  readonly search?: string;
  readonly states?: readonly JobFinalState[];
  /** finishedAt >= from (epoch ms). */
  readonly from?: number;
  /** finishedAt < to (epoch ms). */
  readonly to?: number;
  readonly tag?: string;
}

/** Columns the active history sorts by; NOT NULL ones sort raw so their indexes serve. */
export const sortColumns = {
  finishedAt: { sql: 'finished_at', nullable: false },
  createdAt: { sql: 'created_at', nullable: false },
  startedAt: { sql: 'started_at', nullable: true },
  name: { sql: 'name', nullable: false },
  command: { sql: 'command', nullable: true },
  cwd: { sql: 'cwd', nullable: true },
  state: { sql: 'state', nullable: false },
  attempts: { sql: 'attempts', nullable: false },
  durationMs: { sql: 'duration_ms', nullable: true },
  estimatedMs: { sql: 'estimated_ms', nullable: true },
  exitCode: { sql: 'exit_code', nullable: true },
  queueWaitMs: { sql: 'queue_wait_ms', nullable: true },
  /** Order of arrival in the active history (a restored entry is the newest). */
  added: { sql: 'seq', nullable: false },
} as const;
export type SortColumn = keyof typeof sortColumns;
export type SortDirection = 'asc' | 'desc';

export interface Page<T = HistoryEntry> {
  readonly entries: readonly T[];
  /** Pass back to get the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** Turns user text into an FTS4 query: words only (no operators a user could trip over), each a prefix. */
export function ftsQuery(search: string): string | undefined {
  const words = search.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  return words.length === 0 ? undefined : words.map((word) => `${word}*`).join(' ');
}

/** WHERE clauses for a filter over a table keyed by `key` (`seq` in the active db, `id` in shards). */
export function filterSql(filter: HistoryFilter, key: 'seq' | 'id'): { where: string[]; params: SqlValue[] } {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const match = filter.search === undefined ? undefined : ftsQuery(filter.search);
  if (match !== undefined) {
    where.push(`${key} IN (SELECT docid FROM entries_fts WHERE entries_fts MATCH ?)`);
    params.push(match);
  }
  if (filter.states && filter.states.length > 0) {
    where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
    params.push(...filter.states);
  }
  if (filter.from !== undefined) {
    where.push('finished_at >= ?');
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    where.push('finished_at < ?');
    params.push(filter.to);
  }
  if (filter.tag !== undefined) {
    where.push(`${key} IN (SELECT ${key} FROM entry_tags WHERE tag = ?)`);
    params.push(filter.tag);
  }
  return { where, params };
}

/**
 * The seekable keyset bound: `(v <= ? AND (v < ? OR k < ?))` rather than the row-value form, so
 * SQLite can seek the index to the bound instead of scanning from the top (docs/platform.md, sql.js).
 */
export function keysetSql(valueSql: string, keySql: string, direction: SortDirection): string {
  return direction === 'desc'
    ? `${valueSql} <= ? AND (${valueSql} < ? OR ${keySql} < ?)`
    : `${valueSql} >= ? AND (${valueSql} > ? OR ${keySql} > ?)`;
}

export interface CursorState {
  /** What the cursor belongs to, so a cursor from another query is refused. */
  readonly q: string;
  readonly v: SqlValue;
  readonly k: SqlValue;
}

export function encodeCursor(state: CursorState): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

export function decodeCursor(cursor: string, query: string): CursorState {
  let state: CursorState;
  try {
    state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorState;
  } catch (error) {
    throw new HistoryError('invalidCursor', 'The page cursor is not readable.', { cause: error });
  }
  if (typeof state !== 'object' || state === null || state.q !== query) {
    throw new HistoryError('invalidCursor', 'The page cursor belongs to another query.');
  }
  return state;
}

/** A stable identity of a query, for its cursors. */
export function queryKey(parts: unknown): string {
  return JSON.stringify(parts);
}
