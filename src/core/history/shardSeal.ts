import type { RecordCipher } from '../storage/cipher';
import { StorageError } from '../storage/errors';
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_MAGIC } from '../storage/snapshot';
import { HistoryError } from './historyErrors';

/**
 * Shard files at rest. Without a cipher a shard is the plain sql.js image (opened in place, no
 * copy). With one it is wrapped in the storage core's snapshot format: sealed with AES-GCM, the
 * key's fingerprint in the header, so a missing or wrong key is told apart from damage and never
 * sends a shard to quarantine. Either kind reads back whatever the current cipher: shards written
 * before encryption was turned on stay readable.
 */
export async function sealShard(image: Uint8Array, cipher: RecordCipher | undefined): Promise<Uint8Array> {
  if (!cipher) return image;
  return encodeSnapshot(image, { generation: 0, sequence: 0, cipher });
}

export function isSealedShard(bytes: Uint8Array): boolean {
  return bytes.length >= SNAPSHOT_MAGIC.length && Buffer.from(bytes.buffer, bytes.byteOffset, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC);
}

/**
 * The database image inside a shard file whose bytes already matched the index's sha256.
 * Rejects with StorageError('missingKey' | 'wrongKey' | 'decryptFailed') for a key problem (leave
 * the file alone) and HistoryError('corruptShard') for damage.
 */
export async function openShardFile(file: string, bytes: Uint8Array, cipher: RecordCipher | undefined): Promise<Uint8Array> {
  if (!isSealedShard(bytes)) return bytes;
  try {
    return (await decodeSnapshot(bytes, cipher)).payload;
  } catch (error) {
    if (StorageError.is(error, 'missingKey') || StorageError.is(error, 'wrongKey') || StorageError.is(error, 'decryptFailed')) {
      throw new StorageError(
        error.reason,
        `Archive shard ${file} is encrypted and ${error.reason === 'missingKey' ? 'its key is not available' : 'does not open with this key'}. Enter the recovery key to read it.`,
        { cause: error },
      );
    }
    throw new HistoryError('corruptShard', `Archive shard ${file} is damaged: ${(error as Error).message}`, { cause: error });
  }
}

export function isKeyProblem(error: unknown): boolean {
  return StorageError.is(error, 'missingKey') || StorageError.is(error, 'wrongKey') || StorageError.is(error, 'decryptFailed');
}
