import { promisify } from 'node:util';
import { once } from 'node:events';
import { createGzip, crc32, gunzip } from 'node:zlib';
import { writeFileAtomic } from './atomicFile';
import type { RecordCipher } from './cipher';
import { StorageError } from './errors';
import { fsp } from './storageFs';
import { toStorageError } from './storageIo';

/**
 * A snapshot file: a header and one opaque payload (binary: the history stores a sql.js image).
 *
 *   magic(8) version(u16) flags(u16: 1 gzip, 2 encrypted) generation(u32) sequence(u64)
 *   payloadLength(u64) payloadCrc32(u32) fingerprintLength(u8) fingerprint headerCrc32(u32) payload
 *
 * `generation` is the first journal generation to replay on top of it and `sequence` the last
 * record it contains, which is how opening knows which journals a snapshot already covers.
 * The payload is gzipped first (if asked), then sealed with the header (up to the length field,
 * plus the fingerprint) as associated data. The CRC covers the stored bytes, so damage is told
 * apart from a wrong key without decrypting.
 */
export const SNAPSHOT_MAGIC = Buffer.from('LLSNAP\r\n', 'latin1');
export const SNAPSHOT_FORMAT_VERSION = 1;
const FLAG_GZIP = 1;
const FLAG_ENCRYPTED = 2;
const FIXED_BYTES = 37;
const gunzipAsync = promisify(gunzip);

export interface SnapshotHeader {
  readonly version: number;
  readonly generation: number;
  readonly sequence: number;
  readonly compressed: boolean;
  readonly encrypted: boolean;
  readonly keyFingerprint: string;
  /** Size of the whole file. */
  readonly byteLength: number;
}

export interface SnapshotWriteOptions {
  readonly generation: number;
  readonly sequence: number;
  /** Seal the payload; the fingerprint goes into the header. */
  readonly cipher?: RecordCipher;
  /** gzip the payload before sealing. @default false */
  readonly compress?: boolean;
}

function associatedData(header: Buffer, fingerprintLength: number): Buffer {
  // Everything but the length and CRC fields, which depend on the sealed bytes.
  return Buffer.concat([header.subarray(0, 24), header.subarray(36, FIXED_BYTES + fingerprintLength)]);
}

/** A payload as one buffer or as pieces (a large state is built in pieces to avoid one huge copy). */
export type SnapshotPayload = Uint8Array | readonly Uint8Array[];

/**
 * Encodes a snapshot as a list of pieces (header first). Plain payloads are never copied into one
 * buffer and their checksum is computed a few MB at a time with yields in between, so a 100 MB
 * state does not stall the event loop. gzip streams; sealing needs one buffer (RecordCipher is
 * one-shot), so an encrypted snapshot is joined first.
 */
export async function encodeSnapshotPieces(payload: SnapshotPayload, options: SnapshotWriteOptions): Promise<Buffer[]> {
  const fingerprint = Buffer.from(options.cipher?.keyFingerprint ?? '', 'latin1');
  const header = Buffer.alloc(FIXED_BYTES + fingerprint.length + 4);
  SNAPSHOT_MAGIC.copy(header, 0);
  header.writeUInt16LE(SNAPSHOT_FORMAT_VERSION, 8);
  header.writeUInt16LE((options.compress ? FLAG_GZIP : 0) | (options.cipher ? FLAG_ENCRYPTED : 0), 10);
  header.writeUInt32LE(options.generation, 12);
  header.writeBigUInt64LE(BigInt(options.sequence), 16);
  header.writeUInt8(fingerprint.length, 36);
  fingerprint.copy(header, FIXED_BYTES);
  let pieces: Uint8Array[] = payload instanceof Uint8Array ? [payload] : [...payload];
  if (options.compress) pieces = await gzipPieces(pieces);
  if (options.cipher) {
    pieces = [
      options.cipher.seal(
        pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces),
        associatedData(header, fingerprint.length),
      ),
    ];
  }
  let length = 0;
  for (const piece of pieces) length += piece.length;
  header.writeBigUInt64LE(BigInt(length), 24);
  header.writeUInt32LE(await crc32InSlices(pieces), 32);
  header.writeUInt32LE(crc32(header.subarray(0, FIXED_BYTES + fingerprint.length)), FIXED_BYTES + fingerprint.length);
  return [header, ...pieces.map((piece) => Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength))];
}

/** The whole snapshot file as one buffer (for backups and tests). */
export async function encodeSnapshot(payload: SnapshotPayload, options: SnapshotWriteOptions): Promise<Buffer> {
  return Buffer.concat(await encodeSnapshotPieces(payload, options));
}

const SLICE_BYTES = 4 * 1024 * 1024;

async function crc32InSlices(pieces: readonly Uint8Array[]): Promise<number> {
  let crc = 0;
  let sinceYield = 0;
  for (const piece of pieces) {
    for (let offset = 0; offset < piece.length; offset += SLICE_BYTES) {
      crc = crc32(piece.subarray(offset, Math.min(piece.length, offset + SLICE_BYTES)), crc);
      sinceYield += SLICE_BYTES;
      if (sinceYield >= SLICE_BYTES * 2) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  return crc;
}

async function gzipPieces(pieces: readonly Uint8Array[]): Promise<Buffer[]> {
  const stream = createGzip();
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  const finished = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  for (const piece of pieces) if (!stream.write(piece)) await once(stream, 'drain');
  stream.end();
  await finished;
  return out;
}

function corrupt(detail: string): StorageError {
  return new StorageError('corruptSnapshot', `The snapshot is damaged (${detail}).`);
}

/** Reads and checks the header and the payload checksum, without decrypting. */
export function readSnapshotHeader(bytes: Uint8Array): SnapshotHeader {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < FIXED_BYTES + 4 || !buffer.subarray(0, 8).equals(SNAPSHOT_MAGIC)) throw corrupt('not a Lifeline snapshot');
  const fingerprintLength = buffer.readUInt8(36);
  const headerLength = FIXED_BYTES + fingerprintLength + 4;
  if (buffer.length < headerLength) throw corrupt('header cut short');
  if (crc32(buffer.subarray(0, headerLength - 4)) !== buffer.readUInt32LE(headerLength - 4)) throw corrupt('header checksum mismatch');
  const version = buffer.readUInt16LE(8);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new StorageError(
      'unsupportedVersion',
      `This snapshot was written by a newer Lifeline (format ${version}); update Lifeline to open it.`,
    );
  }
  const storedLength = buffer.readBigUInt64LE(24);
  if (storedLength !== BigInt(buffer.length - headerLength)) {
    throw corrupt(`payload is ${buffer.length - headerLength} bytes, header says ${storedLength}`);
  }
  if (crc32(buffer.subarray(headerLength)) !== buffer.readUInt32LE(32)) throw corrupt('payload checksum mismatch');
  const sequence = buffer.readBigUInt64LE(16);
  if (sequence > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('sequence out of range');
  const flags = buffer.readUInt16LE(10);
  return {
    version,
    generation: buffer.readUInt32LE(12),
    sequence: Number(sequence),
    compressed: (flags & FLAG_GZIP) !== 0,
    encrypted: (flags & FLAG_ENCRYPTED) !== 0,
    keyFingerprint: buffer.toString('latin1', FIXED_BYTES, FIXED_BYTES + fingerprintLength),
    byteLength: buffer.length,
  };
}

/**
 * Verifies and opens a snapshot. Throws StorageError: 'corruptSnapshot' (damaged: quarantine it),
 * 'unsupportedVersion', 'missingKey' / 'wrongKey' / 'decryptFailed' (intact but unreadable
 * without the right key: never quarantine, never re-create).
 */
export async function decodeSnapshot(
  bytes: Uint8Array,
  cipher: RecordCipher | undefined,
): Promise<{ header: SnapshotHeader; payload: Buffer }> {
  const header = readSnapshotHeader(bytes);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = FIXED_BYTES + header.keyFingerprint.length + 4;
  let payload: Uint8Array = buffer.subarray(headerLength);
  if (header.encrypted) {
    if (!cipher) {
      throw new StorageError('missingKey', 'This store is encrypted and its key is not available. Enter the recovery key to open it.');
    }
    if (cipher.keyFingerprint !== header.keyFingerprint) {
      throw new StorageError(
        'wrongKey',
        `This store was encrypted with another key (fingerprint ${header.keyFingerprint}). Enter its recovery key to open it.`,
      );
    }
    try {
      payload = cipher.open(payload, associatedData(buffer, header.keyFingerprint.length));
    } catch (error) {
      // The checksum verified, so the bytes are as written: the key, not the file, is wrong.
      if (StorageError.is(error)) throw error;
      throw new StorageError('decryptFailed', 'The snapshot does not decrypt with this key.', { cause: error });
    }
  }
  if (header.compressed) {
    try {
      payload = await gunzipAsync(payload);
    } catch (error) {
      throw new StorageError('corruptSnapshot', 'The snapshot payload does not decompress.', { cause: error });
    }
  }
  return { header, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) };
}

/** Encodes and writes a snapshot atomically (temp file, fsync, rename, fsync of the directory). */
export async function writeSnapshot(path: string, payload: SnapshotPayload, options: SnapshotWriteOptions): Promise<number> {
  const pieces = await encodeSnapshotPieces(payload, options);
  try {
    await writeFileAtomic(path, pieces);
  } catch (error) {
    throw toStorageError(error, `write the snapshot ${path}`);
  }
  return pieces.reduce((total, piece) => total + piece.length, 0);
}

/**
 * Writes a snapshot atomically, then reads it back and decodes it (checksums, key, gzip): only a
 * snapshot verified on disk lets a store drop the generation before it.
 */
export async function writeVerifiedSnapshot(
  path: string,
  payload: SnapshotPayload,
  options: SnapshotWriteOptions,
): Promise<{ bytes: number; crc: number }> {
  const bytes = await writeSnapshot(path, payload, options);
  let written: Buffer;
  try {
    written = await fsp.readFile(path);
  } catch (error) {
    throw toStorageError(error, `read back the snapshot ${path}`);
  }
  const crc = crc32(written);
  const { header } = await decodeSnapshot(written, options.cipher);
  if (header.generation !== options.generation || header.sequence !== options.sequence || written.length !== bytes) {
    throw new StorageError('corruptSnapshot', `The snapshot ${path} does not read back as written.`);
  }
  // The manifest keeps this, so a snapshot replaced by another store's valid one is not taken for ours.
  return { bytes, crc };
}
