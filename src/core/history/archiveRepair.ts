import { createHash } from 'node:crypto';
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
  /**
   * index.json was missing, damaged or another archive's (`foreign`: it verifies but none of the
   * shards it names is ours) and was rebuilt from the shards that verify on their own.
   */
  | {
      readonly type: 'indexRebuilt';
      readonly reason: 'missing' | 'damaged' | 'foreign';
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
 * The archive is the one most of the verifying shards name (#16): a shard that names another is
 * some other store's and is listed as unreadable, never indexed. Shards that name none are older
 * ones and are kept.
 */
export async function rebuildIndex(
  SQL: SqlJsStatic,
  shardsDir: string,
  cipher: RecordCipher | undefined,
): Promise<{ index: ArchiveIndex; unreadable: { file: string; detail: string }[] }> {
  const unreadable: { file: string; detail: string }[] = [];
  const verified: { info: ShardInfo; archiveId?: string }[] = [];
  for (const file of (await fs.readdir(shardsDir)).filter((name) => name.endsWith('.shard')).sort()) {
    const check = await verifyShardFile(SQL, shardsDir, file, cipher);
    if (check.ok) verified.push(check);
    else unreadable.push({ file, detail: check.detail });
  }
  const votes = new Map<string, number>();
  for (const { archiveId } of verified) if (archiveId !== undefined) votes.set(archiveId, (votes.get(archiveId) ?? 0) + 1);
  const ours = [...votes].sort((a, b) => b[1] - a[1])[0]?.[0];
  const index = emptyIndex(ours);
  for (const { info, archiveId } of verified) {
    if (archiveId !== undefined && archiveId !== ours) {
      unreadable.push({ file: info.file, detail: `it verifies but belongs to another archive (${archiveId})` });
      continue;
    }
    index.shards.push(info);
    index.nextBatch = Math.max(index.nextBatch, info.batch + 1);
  }
  return { index, unreadable };
}

/**
 * Whether an index that reads (and passes its checksum) is another archive's, copied over ours: it
 * names an archive, none of the shards it names is present with its sha256, and those that verify
 * on their own name another archive. One named shard that matches, or names this archive, and the
 * index is ours (a single foreign shard among ours is then that shard's damage, not the index's).
 * Stops at the first match, so an intact archive reads one shard here.
 */
export async function isForeignIndex(
  SQL: SqlJsStatic,
  shardsDir: string,
  index: ArchiveIndex,
  cipher: RecordCipher | undefined,
): Promise<boolean> {
  if (index.archiveId === undefined) return false;
  let foreign = false;
  for (const shard of index.shards) {
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(join(shardsDir, shard.file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (createHash('sha256').update(bytes).digest('hex') === shard.sha256) return false;
    const check = await verifyShardFile(SQL, shardsDir, shard.file, cipher);
    if (!check.ok || check.archiveId === undefined) continue;
    if (check.archiveId === index.archiveId) return false;
    foreign = true;
  }
  return foreign;
}
