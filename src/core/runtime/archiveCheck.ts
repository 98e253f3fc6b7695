import { join } from 'node:path';
import { isKeyProblem } from '../history/shardSeal';
import { readIndexFile } from '../history/shardIndex';
import { loadSqlJs } from '../history/sqlLoader';
import { verifyShardFile } from '../history/shardVerify';
import { fsp as fs } from '../storage/storageFs';
import type { QuarantinedFile } from './storageReport';

/** The history's archive (sealed monthly shards and their index) as the health report shows it. */
export interface ArchiveCheck {
  readonly status: 'ok' | 'damaged' | 'locked';
  readonly shards: number;
  readonly entries: number | undefined;
  readonly bytes: number;
  readonly problems: readonly string[];
  readonly notes: readonly string[];
  /** Shards checked with SQLite's integrity check and their own checksums (a deep check only). */
  readonly shardsVerified: number | undefined;
  readonly encrypted: boolean;
  readonly quarantine: readonly QuarantinedFile[];
}

/**
 * Checks the archive in `directory` without changing it: the index's checksum, that every shard
 * it names is there, and (with `sqlWasmPath`, a deep check) every shard on its own
 * (verifyShardFile: seal, integrity check, row count, content checksum). Undefined when the
 * workspace has no archive yet.
 */
export async function checkArchive(
  directory: string,
  sqlWasmPath: string | undefined,
  listQuarantine: (directory: string) => Promise<QuarantinedFile[]>,
): Promise<ArchiveCheck | undefined> {
  const shardsDir = join(directory, 'shards');
  const files = await fs.readdir(shardsDir).catch(() => undefined);
  const hasIndex = await fs.stat(join(directory, 'index.json')).then(
    () => true,
    () => false,
  );
  if (!files && !hasIndex) return undefined;
  const shardFiles = (files ?? []).filter((name) => !name.startsWith('.'));
  let bytes = 0;
  for (const name of shardFiles) bytes += (await fs.stat(join(shardsDir, name)).catch(() => undefined))?.size ?? 0;
  const problems: string[] = [];
  const notes: string[] = [];
  let entries: number | undefined;
  let locked = false;
  try {
    const read = await readIndexFile(directory);
    if (read) {
      entries = read.index.shards.reduce((total, shard) => total + shard.count, 0);
      for (const shard of read.index.shards) {
        if (!shardFiles.includes(shard.file)) problems.push(`shard ${shard.file} (${shard.count} entries of ${shard.month}) is missing`);
      }
      const unindexed = shardFiles.filter((name) => !read.index.shards.some((shard) => shard.file === name));
      if (unindexed.length > 0) {
        notes.push(`${unindexed.length} shard file(s) the index does not name (adopted or set aside when the history next opens)`);
      }
    } else if (shardFiles.length > 0) {
      notes.push('the index is missing (rebuilt from the shards when the history next opens)');
    }
  } catch (error) {
    if (isKeyProblem(error)) locked = true;
    else problems.push(`the index is damaged (${error instanceof Error ? error.message : String(error)})`);
  }
  let shardsVerified: number | undefined;
  if (sqlWasmPath && !locked) {
    const SQL = await loadSqlJs(sqlWasmPath);
    shardsVerified = 0;
    for (const file of shardFiles) {
      try {
        const check = await verifyShardFile(SQL, shardsDir, file, undefined);
        if (check.ok) shardsVerified++;
        else problems.push(`shard ${file} fails its check: ${check.detail}`);
      } catch (error) {
        if (!isKeyProblem(error)) throw error;
        locked = true;
      }
    }
  }
  return {
    status: problems.length > 0 ? 'damaged' : locked ? 'locked' : 'ok',
    shards: shardFiles.length,
    entries,
    bytes,
    problems,
    notes,
    shardsVerified,
    encrypted: locked,
    quarantine: await listQuarantine(directory),
  };
}
