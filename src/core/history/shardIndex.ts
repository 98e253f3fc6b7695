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
  sha256: z.string().length(64),
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
});
export type ArchiveIndex = z.infer<typeof archiveIndexSchema>;

export const emptyIndex = (): ArchiveIndex => ({ formatVersion: 1, nextBatch: 1, shards: [] });

/**
 * Reads index.json. With encryption on it is sealed like the shards (it names months, counts
 * and tags); a plain one written before encryption was turned on still reads. A missing or wrong
 * key is a StorageError that leaves the file alone; anything else unreadable is `corruptIndex`.
 */
export async function readIndex(archiveDir: string, cipher?: RecordCipher): Promise<ArchiveIndex | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(join(archiveDir, 'index.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
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
  try {
    return archiveIndexSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new HistoryError('corruptIndex', 'The archive index is unreadable.', { cause: error });
  }
}

export async function writeIndex(archiveDir: string, index: ArchiveIndex, cipher?: RecordCipher): Promise<void> {
  const json = Buffer.from(JSON.stringify(index), 'utf8');
  await writeFileAtomic(join(archiveDir, 'index.json'), await sealShard(json, cipher));
}

/** Whether a shard can hold a row matching `filter`, from its index entry alone. */
export function shardMayMatch(shard: ShardInfo, filter: HistoryFilter): boolean {
  if (filter.from !== undefined && shard.maxFinishedAt < filter.from) return false;
  if (filter.to !== undefined && shard.minFinishedAt >= filter.to) return false;
  if (filter.states && filter.states.length > 0 && !filter.states.some((state) => (shard.states[state] ?? 0) > 0)) return false;
  if (filter.tag !== undefined && shard.tags !== null && !shard.tags.includes(filter.tag)) return false;
  return true;
}
