import { createHash } from 'node:crypto';
import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import { writeFileAtomic } from '../storage/atomicFile';
import type { RecordCipher } from '../storage/cipher';
import type { SqlJsStatic } from './sqlLoader';
import { entryColumns, entryToRow } from './historyEntry';
import type { HistoryEntry, JobFinalState } from './historyEntry';
import { createShardSchema, currentSchemaVersion, indexShard } from './schema';
import { maxIndexedTags } from './shardIndex';
import type { ShardInfo } from './shardIndex';
import { sealShard } from './shardSeal';
import { contentChecksum } from './shardVerify';

/** Bytes a row takes in a shard, relative to its JSON: table, three indexes and the FTS index. */
const shardOverhead = 1.45;

export function monthOf(finishedAt: number): string {
  return new Date(finishedAt).toISOString().slice(0, 7);
}

/** Archive order: finishedAt, then jobId; rowids follow it, so a month's pages are contiguous. */
export function compareArchiveOrder(a: HistoryEntry, b: HistoryEntry): number {
  return a.finishedAt - b.finishedAt || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0);
}

/** Groups entries by month, then cuts each month into parts of about `maxShardBytes`. */
export function planShards(entries: readonly HistoryEntry[], maxShardBytes: number): HistoryEntry[][] {
  const sorted = [...entries].sort(compareArchiveOrder);
  const parts: HistoryEntry[][] = [];
  let current: HistoryEntry[] = [];
  let month = '';
  let bytes = 0;
  for (const entry of sorted) {
    const size = JSON.stringify(entry).length * shardOverhead;
    const entryMonth = monthOf(entry.finishedAt);
    if (current.length > 0 && (entryMonth !== month || bytes + size > maxShardBytes)) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    month = entryMonth;
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

/** Builds one sealed shard database from entries already in archive order. */
export async function buildShard(
  SQL: SqlJsStatic,
  entries: readonly HistoryEntry[],
  batch: number,
  file: string,
  archiveId?: string,
): Promise<{ info: ShardInfo; bytes: Uint8Array }> {
  const db = new SQL.Database();
  try {
    // Nothing is durable until the exported image is written, so the build needs no journal.
    db.exec('PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA page_size = 4096;');
    createShardSchema(db);
    const insert = db.prepare(`INSERT INTO entries(id, ${entryColumns.join(', ')}) VALUES (?, ${entryColumns.map(() => '?').join(', ')})`);
    const states: Partial<Record<JobFinalState, number>> = {};
    const tags = new Set<string>();
    try {
      db.exec('BEGIN');
      for (const [index, entry] of entries.entries()) {
        const row = entryToRow(entry);
        insert.run([index + 1, ...entryColumns.map((column) => row[column])]);
        states[entry.state] = (states[entry.state] ?? 0) + 1;
        for (const tag of entry.tags) tags.add(tag);
        // Yield now and then: this runs on the extension host's event loop. The database is ours alone.
        if (index % 250 === 249) await new Promise((resolve) => setImmediate(resolve));
      }
      db.exec('COMMIT');
    } finally {
      insert.free();
    }
    indexShard(db);
    // The content checksum makes the shard verifiable on its own, without the index (#16).
    db.exec(`INSERT INTO meta(key, value) VALUES ('batch', ${batch}), ('count', ${entries.length}), ('content', '${contentChecksum(db)}')`);
    // Which archive it belongs to: a same-named shard of another store that verifies is still not ours (#16).
    if (archiveId !== undefined) db.run("INSERT INTO meta(key, value) VALUES ('archive', ?)", [archiveId]);
    db.exec('VACUUM');
    const bytes = db.export();
    const first = entries[0];
    const last = entries[entries.length - 1];
    const info: ShardInfo = {
      file,
      batch,
      month: first ? monthOf(first.finishedAt) : '0000-00',
      schemaVersion: currentSchemaVersion,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      count: entries.length,
      minFinishedAt: first?.finishedAt ?? 0,
      maxFinishedAt: last?.finishedAt ?? 0,
      states,
      tags: tags.size > maxIndexedTags ? null : [...tags].sort(),
    };
    return { info, bytes };
  } finally {
    db.close();
  }
}

export function shardFileName(month: string, batch: number, part: number): string {
  return `${month}-b${String(batch).padStart(6, '0')}-${String(part).padStart(3, '0')}.shard`;
}

/**
 * Writes a batch's shards, each atomically and durably (sealed when a cipher is given); the caller
 * then records them in the index. `bytes` and `sha256` in the index describe the file as stored.
 */
export async function writeShards(
  SQL: SqlJsStatic,
  shardsDir: string,
  entries: readonly HistoryEntry[],
  batch: number,
  maxShardBytes: number,
  cipher?: RecordCipher,
  archiveId?: string,
): Promise<ShardInfo[]> {
  await fs.mkdir(shardsDir, { recursive: true, mode: 0o700 });
  const infos: ShardInfo[] = [];
  const parts = planShards(entries, maxShardBytes);
  for (const [part, partEntries] of parts.entries()) {
    const file = shardFileName(monthOf(partEntries[0]?.finishedAt ?? 0), batch, part);
    const built = await buildShard(SQL, partEntries, batch, file, archiveId);
    const bytes = await sealShard(built.bytes, cipher);
    const info =
      bytes === built.bytes ? built.info : { ...built.info, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    await writeFileAtomic(join(shardsDir, file), bytes);
    infos.push(info);
  }
  return infos;
}
