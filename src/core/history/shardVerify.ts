import { createHash } from 'node:crypto';
import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import type { RecordCipher } from '../storage/cipher';
import type { Database, SqlJsStatic } from './sqlLoader';
import { jobFinalStates } from './historyEntry';
import type { JobFinalState } from './historyEntry';
import { HistoryError } from './historyErrors';
import { maxIndexedTags } from './shardIndex';
import type { ShardInfo } from './shardIndex';
import { isKeyProblem, openShardFile } from './shardSeal';
import { selectRows } from './selectRows';

/**
 * The sha256 of a shard's rows, in rowid order, every column: written into the shard's own meta
 * table (`content`) when it is sealed, so a shard can be checked without the index (#16). Reads
 * `SELECT *`, so it does not depend on the schema version the shard was written with.
 */
export function contentChecksum(db: Database): string {
  const hash = createHash('sha256');
  const statement = db.prepare('SELECT * FROM entries ORDER BY id');
  try {
    while (statement.step()) hash.update(JSON.stringify(statement.get())).update('\n');
  } finally {
    statement.free();
  }
  return hash.digest('hex');
}

/**
 * `selfChecked`: its own content checksum (or its seal) matched; false for an older plain shard,
 * checked by structure and count only. `archiveId`: the archive it was sealed for (none in older shards).
 */
export type ShardCheck =
  | { readonly ok: true; readonly info: ShardInfo; readonly selfChecked: boolean; readonly archiveId?: string }
  | { readonly ok: false; readonly detail: string };

/**
 * Checks a shard file against itself, not against the index: the seal (AES-GCM) of an encrypted
 * shard, SQLite's integrity check, the row count it recorded and its content checksum. What
 * passes is data whatever the index says; the returned info describes the file as stored. A key
 * problem rejects (the shard is intact but unreadable: never quarantine it).
 */
export async function verifyShardFile(
  SQL: SqlJsStatic,
  shardsDir: string,
  file: string,
  cipher: RecordCipher | undefined,
): Promise<ShardCheck> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(join(shardsDir, file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, detail: 'the file is missing' };
    throw error;
  }
  let db: Database | undefined;
  try {
    const image = await openShardFile(file, bytes, cipher);
    db = new SQL.Database(image);
    const integrity = selectRows(db, 'PRAGMA integrity_check', [])
      .map((row) => String(Object.values(row)[0]))
      .join('; ');
    if (integrity !== 'ok') return { ok: false, detail: `integrity check: ${integrity}` };
    // The search index is data too (FTS4 keeps it in blobs the integrity check does not read).
    if (selectRows(db, "SELECT name FROM sqlite_master WHERE name = 'entries_fts'", []).length > 0) {
      try {
        db.exec("INSERT INTO entries_fts(entries_fts) VALUES ('integrity-check')");
      } catch (error) {
        return {
          ok: false,
          detail: `its search index fails its integrity check: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
    }
    const meta = new Map(selectRows(db, 'SELECT key, value FROM meta', []).map((row) => [String(row.key), row.value]));
    const summary = selectRows(db, 'SELECT count(*) AS n, min(finished_at) AS lo, max(finished_at) AS hi FROM entries', [])[0] ?? {};
    const count = Number(summary.n ?? 0);
    if (meta.has('count') && Number(meta.get('count')) !== count) {
      return { ok: false, detail: `it holds ${count} entries but recorded ${String(meta.get('count'))}` };
    }
    const content = meta.get('content');
    if (content !== undefined && contentChecksum(db) !== String(content)) {
      return { ok: false, detail: 'its rows fail their content checksum' };
    }
    const states: Partial<Record<JobFinalState, number>> = {};
    for (const row of selectRows(db, 'SELECT state, count(*) AS n FROM entries GROUP BY state', [])) {
      if ((jobFinalStates as readonly string[]).includes(String(row.state))) states[row.state as JobFinalState] = Number(row.n);
    }
    const tags = selectRows(db, 'SELECT DISTINCT tag FROM entry_tags', []).map((row) => String(row.tag));
    const batch = Number(meta.get('batch') ?? 1);
    const info: ShardInfo = {
      file,
      batch: Number.isInteger(batch) && batch >= 1 ? batch : 1,
      month: file.slice(0, 7),
      schemaVersion: Number(selectRows(db, 'PRAGMA user_version', [])[0]?.user_version ?? 1) || 1,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      count,
      minFinishedAt: Number(summary.lo ?? 0),
      maxFinishedAt: Number(summary.hi ?? 0),
      states,
      tags: tags.length > maxIndexedTags ? null : tags.sort(),
    };
    const archiveId = meta.get('archive');
    return {
      ok: true,
      info,
      selfChecked: content !== undefined || bytes !== image,
      archiveId: archiveId === undefined || archiveId === null ? undefined : String(archiveId),
    };
  } catch (error) {
    if (isKeyProblem(error)) throw error;
    if (HistoryError.is(error, 'corruptShard')) return { ok: false, detail: error.message };
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  } finally {
    db?.close();
  }
}
