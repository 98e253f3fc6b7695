import { fsp as fs } from './storageFs';
import { dirname } from 'node:path';
import { writeFileAtomic } from './atomicFile';
import { partNameProblem } from './backupFormat';
import type { BackupPart, BackupSource } from './backupTypes';
import { StorageError } from './errors';

export interface FileBackupSourceOptions {
  /** Part names are `<prefix><file name>`; the prefix says which source a part belongs to. */
  readonly prefix: string;
  /** Where a file lives (and is restored to); `file` has already been checked to hold no path separator. */
  path(file: string): string;
  /** The file names (not paths) to back up now. Files must not change while they are read: sealed, immutable files. */
  list(): Promise<readonly string[]> | readonly string[];
  /** A short summary for `list`. @default "<n> bytes" */
  summary?(file: string, bytes: number): string;
  /** After every part is written (each atomically): for the owner to reload what it knows of the files. */
  afterInstall?(files: readonly string[]): Promise<void>;
}

/** A BackupSource that also says which parts it owns, so several can share one backup. */
export interface OwnedBackupSource extends BackupSource {
  owns(partName: string): boolean;
}

/**
 * Immutable files (sealed archive shards) as backup parts, one part per file, the bytes as they
 * are on disk (a sealed shard stays encrypted inside the backup). Restoring writes each file back
 * atomically; a name that could leave the folder is refused before anything is written.
 */
export function fileBackupSource(options: FileBackupSourceOptions): OwnedBackupSource {
  const fileOf = (partName: string): string => {
    const file = partName.slice(options.prefix.length);
    const problem = partNameProblem(file) ?? partNameProblem(partName);
    if (!partName.startsWith(options.prefix) || problem) {
      throw new StorageError(
        'invalidBackup',
        `The backup part ${JSON.stringify(partName)} is not a file of ${options.prefix}: ${problem ?? 'wrong prefix'}.`,
      );
    }
    return file;
  };
  return {
    owns: (partName) => partName.startsWith(options.prefix),
    snapshotParts: async (): Promise<BackupPart[]> => {
      const parts: BackupPart[] = [];
      for (const file of await options.list()) {
        const name = `${options.prefix}${file}`;
        fileOf(name);
        const bytes = await fs.readFile(options.path(file));
        parts.push({ name, bytes, summary: options.summary?.(file, bytes.length) ?? `${bytes.length} bytes` });
      }
      return parts;
    },
    installParts: async (parts: readonly BackupPart[]): Promise<void> => {
      const files = parts.map((part) => ({ file: fileOf(part.name), bytes: part.bytes }));
      for (const { file, bytes } of files) {
        const path = options.path(file);
        await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await writeFileAtomic(path, bytes);
      }
      await options.afterInstall?.(files.map(({ file }) => file));
    },
  };
}

/**
 * Several sources as one: parts are concatenated, and a restore gives each source the parts it
 * owns, after checking that every part has an owner (before any source changes).
 */
export function combineBackupSources(sources: readonly OwnedBackupSource[]): BackupSource {
  return {
    snapshotParts: async () => (await Promise.all(sources.map((source) => source.snapshotParts()))).flat(),
    installParts: async (parts) => {
      const byOwner = new Map<OwnedBackupSource, BackupPart[]>();
      for (const part of parts) {
        const owner = sources.find((source) => source.owns(part.name));
        if (!owner) throw new StorageError('invalidBackup', `The backup holds a part "${part.name}" that this version does not have.`);
        byOwner.set(owner, [...(byOwner.get(owner) ?? []), part]);
      }
      for (const [owner, owned] of byOwner) await owner.installParts(owned);
    },
  };
}

/** Makes a source that claims an exact set of part names (e.g. durableBackupSource's stores) combinable. */
export function ownedBy(source: BackupSource, owns: (partName: string) => boolean): OwnedBackupSource {
  return { ...source, owns, snapshotParts: () => source.snapshotParts(), installParts: (parts) => source.installParts(parts) };
}
