import { createHash, randomUUID } from 'node:crypto';
import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../storage/atomicFile';
import { jobFinalStates } from './historyEntry';
import type { RecordCipher } from '../storage/cipher';
import { StorageError } from '../storage/errors';
import { decodeSnapshot } from '../storage/snapshot';
import { HistoryError } from './historyErrors';
import { isKeyProblem, isSealedShard, sealShard } from './shardSeal';
import type { HistoryFilter } from './historyQuery';

/** More distinct tags than this and a shard records none (`tags: null`): it may match any tag. */
export const maxIndexedTags = 64;

export const shardInfoSchema = z.object({
  /** File name inside archive/shards/. */
  file: z.string().regex(/^[\w.-]+\.shard$/),
  /** The archival batch that wrote it; the active db records the last batch it dropped. */
  batch: z.number().int().min(1),
  /** YYYY-MM of finishedAt (UTC). */
  month: z.string(),
  schemaVersion: z.number().int().min(1),
  bytes: z.number().int().min(0),
  /** Checked in full (64 lowercase hex digits): a damaged digest must not pass for one (#16). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  count: z.number().int().min(0),
  minFinishedAt: z.number(),
  maxFinishedAt: z.number(),
  states: z.partialRecord(z.enum(jobFinalStates), z.number().int().min(0)),
  tags: z.array(z.string()).nullable(),
});
export type ShardInfo = z.infer<typeof shardInfoSchema>;

export const archiveIndexSchema = z.object({
  formatVersion: z.literal(1),
  nextBatch: z.number().int().min(1),
  shards: z.array(shardInfoSchema),
  /**
   * Names this archive; every shard sealed since carries it in its meta table (`archive`), so a
   * shard or an index of another history store copied over ours is told from damage (#16). Older
   * indexes and shards have none and are never called foreign.
   */
  archiveId: z.string().min(1).optional(),
});
/** On read, no unknown top-level key: a damaged key name (of `checksum`, say) must not pass for an older index. */
const storedIndexSchema = archiveIndexSchema.extend({ checksum: z.string().optional() }).strict();

/**
 * The index's own checksum: the sha256 of its JSON text, written as the last key
 * (`…,"checksum":"<hex>"}`), so the reader recomputes it over the exact bytes written, whatever
 * the key order. Older indexes have none and still open; older readers ignore the key.
 */
const checksumSuffix = /,"checksum":"([0-9a-f]{64})"\}$/;
export type ArchiveIndex = z.infer<typeof archiveIndexSchema>;

export const emptyIndex = (archiveId: string = randomUUID()): ArchiveIndex => ({ formatVersion: 1, nextBatch: 1, shards: [], archiveId });

/**
 * Reads index.json. With encryption on it is sealed like the shards (it names months, counts
 * and tags); a plain one written before encryption was turned on still reads. A missing or wrong
 * key is a StorageError that leaves the file alone; anything else unreadable is `corruptIndex`.
 */
export async function readIndex(archiveDir: string, cipher?: RecordCipher): Promise<ArchiveIndex | undefined> {
  return (await readIndexFile(archiveDir, cipher))?.index;
}

/**
 * readIndex, and whether the index passed its own checksum (`checked`): such an index is the
 * authority over its shards, since an entry of it cannot be damaged without failing the checksum.
 */
export async function readIndexFile(
  archiveDir: string,
  cipher?: RecordCipher,
): Promise<{ index: ArchiveIndex; checked: boolean } | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(join(archiveDir, 'index.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return decodeIndex(bytes, cipher);
}

/** readIndexFile on index.json's bytes. */
export async function decodeIndex(bytes: Uint8Array, cipher?: RecordCipher): Promise<{ index: ArchiveIndex; checked: boolean }> {
  let text: string;
  if (isSealedShard(bytes)) {
    try {
      text = Buffer.from((await decodeSnapshot(bytes, cipher)).payload).toString('utf8');
    } catch (error) {
      if (isKeyProblem(error)) {
        throw new StorageError(
          (error as StorageError).reason,
          `The archive index is encrypted and ${StorageError.is(error, 'missingKey') ? 'its key is not available' : 'does not open with this key'}. Enter the recovery key to read it.`,
          { cause: error },
        );
      }
      throw new HistoryError('corruptIndex', 'The archive index is unreadable.', { cause: error });
    }
  } else {
    text = Buffer.from(bytes).toString('utf8');
  }
  let parsed: z.infer<typeof storedIndexSchema>;
  try {
    parsed = storedIndexSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new HistoryError('corruptIndex', 'The archive index is unreadable.', { cause: error });
  }
  if (parsed.checksum !== undefined) {
    const match = checksumSuffix.exec(text);
    const body = match ? `${text.slice(0, match.index)}}` : undefined;
    if (!match || sha256Hex(body ?? '') !== match[1]) throw new HistoryError('corruptIndex', 'The archive index fails its checksum.');
  }
  const { checksum, ...index } = parsed;
  return { index, checked: checksum !== undefined };
}

/**
 * What a damaged index still says about its shards: each entry that parses on its own. Used only
 * to say what a lost shard held when the index had to be rebuilt; never trusted as the index.
 */
export async function readIndexHints(archiveDir: string, cipher?: RecordCipher): Promise<ShardInfo[]> {
  try {
    const bytes = await fs.readFile(join(archiveDir, 'index.json'));
    const text = isSealedShard(bytes)
      ? Buffer.from((await decodeSnapshot(bytes, cipher)).payload).toString('utf8')
      : Buffer.from(bytes).toString('utf8');
    const shards: unknown = (JSON.parse(text) as { shards?: unknown }).shards;
    if (!Array.isArray(shards)) return [];
    return shards.flatMap((shard) => {
      const result = shardInfoSchema.safeParse(shard);
      return result.success ? [result.data] : [];
    });
  } catch {
    return [];
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export async function writeIndex(archiveDir: string, index: ArchiveIndex, cipher?: RecordCipher): Promise<void> {
  await writeFileAtomic(join(archiveDir, 'index.json'), await encodeIndex(index, cipher));
}

/** index.json's bytes: its JSON with its checksum, sealed like a shard when `cipher` is given. */
export async function encodeIndex(index: ArchiveIndex, cipher?: RecordCipher): Promise<Uint8Array> {
  const body = JSON.stringify({
    formatVersion: index.formatVersion,
    nextBatch: index.nextBatch,
    shards: index.shards,
    archiveId: index.archiveId,
  });
  const json = Buffer.from(`${body.slice(0, -1)},"checksum":"${sha256Hex(body)}"}`, 'utf8');
  return sealShard(json, cipher);
}

/** Whether a shard can hold a row matching `filter`, from its index entry alone. */
export function shardMayMatch(shard: ShardInfo, filter: HistoryFilter): boolean {
  if (filter.from !== undefined && shard.maxFinishedAt < filter.from) return false;
  if (filter.to !== undefined && shard.minFinishedAt >= filter.to) return false;
  if (filter.states && filter.states.length > 0 && !filter.states.some((state) => (shard.states[state] ?? 0) > 0)) return false;
  if (filter.tag !== undefined && shard.tags !== null && !shard.tags.includes(filter.tag)) return false;
  return true;
}
