import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import type { RecordCipher } from '../storage/cipher';
import type { SqlJsStatic } from './sqlLoader';
import { emptyIndex } from './shardIndex';
import type { ArchiveIndex, ShardInfo } from './shardIndex';
import { verifyShardFile } from './shardVerify';

/**
 * What the archive repaired on its own, reported like its losses (#16): nothing it does to its
 * files is silent. Losses themselves are LostShard reports; these say what was kept and how.
 */
export type ArchiveEvent =
  /** index.json was missing or damaged and was rebuilt from the shards that verify on their own. */
  | {
      readonly type: 'indexRebuilt';
      readonly reason: 'missing' | 'damaged';
      /** Where the damaged index went; undefined when it was missing. */
      readonly quarantinedTo?: string;
      readonly shards: number;
      readonly entries: number;
      readonly detail: string;
    }
  /** A shard the index did not name verified on its own and is in the index now (a crash between sealing and indexing, or a lost index). */
  | { readonly type: 'shardAdopted'; readonly shard: ShardInfo }
  /** The index and a shard disagreed and the shard verified against its own content: the index entry was wrong and is replaced. */
  | { readonly type: 'indexEntryRepaired'; readonly file: string; readonly detail: string }
  /**
   * A shard file no index names that does not verify: moved to quarantine. What it held is not
   * known (no index said); a shard a damaged index still named is a LostShard instead.
   */
  | { readonly type: 'unknownShardQuarantined'; readonly file: string; readonly quarantinedTo: string; readonly detail: string }
  /**
   * A shard that verifies but is newer than the index a backup restore just put back: moved to
   * quarantine, never deleted, so the restore takes the archive back to the backup.
   */
  | { readonly type: 'shardSetAside'; readonly shard: ShardInfo; readonly quarantinedTo: string }
  /** A temp file of a write that never finished (a seal or an index write cut by a crash): the only kind of file cleanup deletes. */
  | { readonly type: 'leftoverRemoved'; readonly file: string };

/** Temp files of writeFileAtomic (`.<name>.<12 hex>.tmp`): a write that never reached its rename, so never data. */
export function isAtomicTemp(name: string): boolean {
  return /^\..+\.[0-9a-f]{12}\.tmp$/.test(name);
}

export async function quarantineFile(archiveDir: string, path: string): Promise<string> {
  const folder = join(archiveDir, 'quarantine');
  await fs.mkdir(folder, { recursive: true, mode: 0o700 });
  const target = join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${path.split(/[\\/]/).pop() ?? 'file'}`);
  await fs.rename(path, target);
  return target;
}

/**
 * An index rebuilt from the shard files themselves, each verified on its own (its seal, integrity,
 * count and content checksum): those that pass are indexed; `unreadable` lists those that do not.
 */
export async function rebuildIndex(
  SQL: SqlJsStatic,
  shardsDir: string,
  cipher: RecordCipher | undefined,
): Promise<{ index: ArchiveIndex; unreadable: { file: string; detail: string }[] }> {
  const index = emptyIndex();
  const unreadable: { file: string; detail: string }[] = [];
  for (const file of (await fs.readdir(shardsDir)).filter((name) => name.endsWith('.shard')).sort()) {
    const check = await verifyShardFile(SQL, shardsDir, file, cipher);
    if (!check.ok) {
      unreadable.push({ file, detail: check.detail });
      continue;
    }
    index.shards.push(check.info);
    index.nextBatch = Math.max(index.nextBatch, check.info.batch + 1);
  }
  return { index, unreadable };
}
