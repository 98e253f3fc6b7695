import type { RecordCipher } from './cipher';
import { StorageError } from './errors';
import { decodeSnapshot, encodeSnapshot, readSnapshotHeader, SNAPSHOT_MAGIC } from './snapshot';

/**
 * Turning encryption on or off (docs/encryption.md) rewrites every file sealed the old way. While
 * that runs, and after a crash in the middle of it, files sealed with either key (or none) exist
 * side by side: a key ring reads both, and each rewrite seals with `to`.
 */
export interface KeyRing {
  /** The key files were sealed with before (undefined: they were plain). */
  readonly from: RecordCipher | undefined;
  /** The key they are sealed with after (undefined: plain). */
  readonly to: RecordCipher | undefined;
}

/** The cipher of the ring a file sealed with `fingerprint` opens with; a 'wrongKey' error when neither is it. */
export function cipherFor(ring: KeyRing, fingerprint: string): RecordCipher {
  for (const cipher of [ring.to, ring.from]) if (cipher?.keyFingerprint === fingerprint) return cipher;
  throw new StorageError('wrongKey', `A file is sealed with a key (${fingerprint}) that is neither the old nor the new one.`);
}

/** True when bytes sealed as `fingerprint` (undefined: plain) are already as `to` would write them. */
export function isSealedAs(fingerprint: string | undefined, to: RecordCipher | undefined): boolean {
  return (fingerprint ?? undefined) === to?.keyFingerprint;
}

export function isSnapshotFormat(bytes: Uint8Array): boolean {
  return bytes.length >= SNAPSHOT_MAGIC.length && Buffer.from(bytes.buffer, bytes.byteOffset, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC);
}

/**
 * A store snapshot (a backup's part) sealed with `ring.to`, its generation, sequence and
 * compression kept; the same bytes when it already is. Damage throws as decodeSnapshot does.
 */
export async function resealSnapshot(bytes: Uint8Array, ring: KeyRing): Promise<Uint8Array> {
  const header = readSnapshotHeader(bytes);
  const fingerprint = header.encrypted ? header.keyFingerprint : undefined;
  if (isSealedAs(fingerprint, ring.to)) return bytes;
  const { payload } = await decodeSnapshot(bytes, fingerprint === undefined ? undefined : cipherFor(ring, fingerprint));
  return encodeSnapshot(payload, {
    generation: header.generation,
    sequence: header.sequence,
    cipher: ring.to,
    compress: header.compressed,
  });
}

/**
 * A file that is plain bytes without encryption and a sealed snapshot with it (an archive shard,
 * the archive's index: see shardSeal.ts), sealed with `ring.to`; the same bytes when it already is.
 */
export async function resealWrapped(bytes: Uint8Array, ring: KeyRing): Promise<Uint8Array> {
  let plain: Uint8Array = bytes;
  if (isSnapshotFormat(bytes)) {
    const header = readSnapshotHeader(bytes);
    if (isSealedAs(header.encrypted ? header.keyFingerprint : undefined, ring.to)) return bytes;
    plain = (await decodeSnapshot(bytes, header.encrypted ? cipherFor(ring, header.keyFingerprint) : undefined)).payload;
  } else if (ring.to === undefined) {
    return bytes;
  }
  return ring.to ? encodeSnapshot(plain, { generation: 0, sequence: 0, cipher: ring.to }) : plain;
}
