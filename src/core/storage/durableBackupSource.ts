import type { BackupPart, BackupSource } from './backupTypes';
import type { DurableStore } from './durableStore';
import { StorageError } from './errors';

/** A live store as the backup manager sees it. */
export interface BackupStoreEntry {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- stores of any state and record types go into one backup
  readonly store: DurableStore<any, any>;
  /** A short summary for `list`, e.g. "1,204 keys". */
  summary(): string;
}

/**
 * Connects the live stores to the BackupManager: a part per store, holding its snapshot bytes
 * (exportSnapshot, consistent with what was acknowledged), and a restore that installs each part
 * with replaceWith (validated first, crash-safe). Every part is checked against the stores before
 * any store changes. `entries` may be a function: the manager must exist before the stores open,
 * since a store with a damaged snapshot asks it for the newest good backup while opening.
 */
export function durableBackupSource(entries: readonly BackupStoreEntry[] | (() => readonly BackupStoreEntry[])): BackupSource {
  const current = (): readonly BackupStoreEntry[] => (typeof entries === 'function' ? entries() : entries);
  return {
    snapshotParts: async (): Promise<BackupPart[]> => {
      const parts: BackupPart[] = [];
      for (const entry of current()) {
        parts.push({ name: entry.store.name, bytes: await entry.store.exportSnapshot(), summary: entry.summary() });
      }
      return parts;
    },
    installParts: async (parts: readonly BackupPart[]): Promise<void> => {
      const byName = new Map(current().map((entry) => [entry.store.name, entry.store]));
      for (const part of parts) {
        if (!byName.has(part.name)) {
          throw new StorageError('invalidBackup', `The backup holds a store "${part.name}" that this version does not have.`);
        }
      }
      for (const part of parts) await byName.get(part.name)?.replaceWith(part.bytes);
    },
  };
}
