/**
 * The contract between the stores and the backup files (backupFile.ts, backupManager.ts).
 * A backup holds every live store as one part each; a part is the store's self-contained
 * snapshot bytes (as written by snapshot.ts, encrypted or compressed as the store is), so a
 * restore is "validate the whole file, take a safety backup, then install each part as the
 * store's snapshot with an empty journal".
 */
export interface BackupPart {
  /** Store name, e.g. `state`, `queue`, `history`. Letters, digits, `-`, `_`, `.` only; never a path. */
  readonly name: string;
  /** The store's snapshot file contents. */
  readonly bytes: Uint8Array;
  /** A short human summary for `list` (e.g. "1,204 keys", "37 jobs"). */
  readonly summary: string;
}

/** What the backup manager needs from the set of live stores. */
export interface BackupSource {
  /** A consistent snapshot of every live store, taken now. */
  snapshotParts(): Promise<BackupPart[]>;
  /** Replaces every live store with the given parts (already validated). */
  installParts(parts: readonly BackupPart[]): Promise<void>;
}
