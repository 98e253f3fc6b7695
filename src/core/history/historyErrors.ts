import { LifelineError } from '../errors';

/**
 * Typed errors of the job history. Callers branch on `reason`, never on message text
 * (docs/errors.md). Kept apart from storage/errors.ts so the two cores can change independently.
 */
export type HistoryErrorReason =
  /** sql.js could not be loaded (missing or unreadable wasm). */
  | 'loadFailed'
  /** The active image or a journal record fails its checksum or is not a database. */
  | 'corruptActive'
  /** A shard fails its sha256 or does not open; it has been moved to quarantine/. */
  | 'corruptShard'
  /** The shard index is unreadable; it is rebuilt from the shard files. */
  | 'corruptIndex'
  /** The database is newer than this code understands. */
  | 'unsupportedVersion'
  /** A schema migration failed; the database was rolled back to its previous version. */
  | 'migrationFailed'
  /** A value does not match the entry schema. */
  | 'invalidEntry'
  /** A page cursor is malformed or belongs to another query. */
  | 'invalidCursor'
  | 'closed';

export class HistoryError extends LifelineError<HistoryErrorReason> {
  constructor(reason: HistoryErrorReason, message: string, options?: { cause?: unknown }) {
    super('HistoryError', reason, message, options);
  }
}
