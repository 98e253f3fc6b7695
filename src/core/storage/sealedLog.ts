import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { RecordCipher } from './cipher';
import { StorageError } from './errors';

/**
 * The format of an encrypted job output log (docs/encryption-job-files.md). A log is appended to
 * while its job runs, so it is a small plain header and then sealed frames, never one sealed blob:
 *
 *   header: magic(8) version(u16) fingerprintLength(u8) fingerprint fileNonce(16) crc32(u32)
 *   frame:  sealedLength(u32) sealed (IV || ciphertext || tag, by the RecordCipher)
 *   sealed plaintext: kind(u8: 0 output, 1 end) bytes
 *
 * Each frame is sealed with associated data binding the format, this file's random nonce and the
 * frame's index, so frames cannot be reordered, dropped from the middle or moved from another log
 * unnoticed. The `end` frame is written when the log is closed: without it the log was still being
 * written, or its writer died. A frame cut short by a crash (the last one) is dropped, like a torn
 * journal record; a whole frame that does not open is damage (StorageError 'decryptFailed'), never
 * skipped. A file that does not begin with this header is a plain log: its bytes are the output.
 */
export const SEALED_LOG_MAGIC = Buffer.from('LLOLOG\r\n', 'latin1');
export const SEALED_LOG_VERSION = 1;
const NONCE_BYTES = 16;
/** Plaintext per frame at most: a reader never holds more than this of one frame. */
export const SEALED_LOG_FRAME_BYTES = 64 * 1024;
const KIND_OUTPUT = 0;
const KIND_END = 1;

/**
 * The key a reader of job files is given: one cipher, or a lookup by the fingerprint in a file's
 * header (a host that knows the keys of runs it started under earlier keys), or none.
 */
export type JobFileKey = RecordCipher | ((fingerprint: string) => RecordCipher | undefined) | undefined;

/** Throws the typed key error when `key` has no cipher for a file sealed with `fingerprint`. */
export function requireKey(fingerprint: string, key: JobFileKey, what: string): RecordCipher {
  const cipher = typeof key === 'function' ? key(fingerprint) : key;
  if (!cipher) throw new StorageError('missingKey', `${what} is encrypted with key ${fingerprint}, and no key was given to read it.`);
  if (cipher.keyFingerprint !== fingerprint) {
    throw new StorageError('wrongKey', `${what} is encrypted with key ${fingerprint}, not with the key given (${cipher.keyFingerprint}).`);
  }
  return cipher;
}

/** A key that is missing or wrong, or data that does not open: the file is locked or damaged, never to be removed. */
export function isKeyError(error: unknown): error is StorageError {
  return StorageError.is(error, 'missingKey') || StorageError.is(error, 'wrongKey');
}

function frameAssociatedData(nonce: Buffer, index: number): Buffer {
  const data = Buffer.alloc(4 + NONCE_BYTES + 8);
  data.write('LLOL', 0, 'latin1');
  nonce.copy(data, 4);
  data.writeBigUInt64LE(BigInt(index), 4 + NONCE_BYTES);
  return data;
}

/** Seals output into frames, in order, for one new log file. */
export class SealedLogWriter {
  private readonly nonce = randomBytes(NONCE_BYTES);
  private index = 0;

  constructor(private readonly cipher: RecordCipher) {}

  /** The file's first bytes. */
  header(): Buffer {
    const fingerprint = Buffer.from(this.cipher.keyFingerprint, 'latin1');
    const header = Buffer.alloc(SEALED_LOG_MAGIC.length + 3 + fingerprint.length + NONCE_BYTES + 4);
    SEALED_LOG_MAGIC.copy(header, 0);
    header.writeUInt16LE(SEALED_LOG_VERSION, 8);
    header.writeUInt8(fingerprint.length, 10);
    fingerprint.copy(header, 11);
    this.nonce.copy(header, 11 + fingerprint.length);
    header.writeUInt32LE(crc32(header.subarray(0, header.length - 4)), header.length - 4);
    return header;
  }

  /** `output` as one or more frames. */
  output(output: Uint8Array): Buffer {
    const frames: Buffer[] = [];
    for (let offset = 0; offset < output.length; offset += SEALED_LOG_FRAME_BYTES) {
      frames.push(this.frame(KIND_OUTPUT, output.subarray(offset, offset + SEALED_LOG_FRAME_BYTES)));
    }
    return Buffer.concat(frames);
  }

  /** The last frame: the log was closed. */
  end(): Buffer {
    return this.frame(KIND_END, new Uint8Array(0));
  }

  private frame(kind: number, data: Uint8Array): Buffer {
    const plain = Buffer.allocUnsafe(1 + data.length);
    plain.writeUInt8(kind, 0);
    plain.set(data, 1);
    const sealed = this.cipher.seal(plain, frameAssociatedData(this.nonce, this.index++));
    const frame = Buffer.allocUnsafe(4 + sealed.length);
    frame.writeUInt32LE(sealed.length, 0);
    frame.set(sealed, 4);
    return frame;
  }
}

export interface SealedLogHeader {
  readonly keyFingerprint: string;
  readonly nonce: Buffer;
  readonly byteLength: number;
}

/** The header when `bytes` begin with a whole, valid one; undefined for a plain log (or one too short to tell). */
export function parseSealedLogHeader(bytes: Uint8Array): SealedLogHeader | undefined {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 11 || !buffer.subarray(0, SEALED_LOG_MAGIC.length).equals(SEALED_LOG_MAGIC)) return undefined;
  const fingerprintLength = buffer.readUInt8(10);
  const length = 11 + fingerprintLength + NONCE_BYTES + 4;
  if (buffer.length < length || crc32(buffer.subarray(0, length - 4)) !== buffer.readUInt32LE(length - 4)) return undefined;
  const version = buffer.readUInt16LE(8);
  if (version !== SEALED_LOG_VERSION) {
    throw new StorageError(
      'unsupportedVersion',
      `This output log was written by a newer Lifeline (format ${version}); update Lifeline to read it.`,
    );
  }
  return {
    keyFingerprint: buffer.toString('latin1', 11, 11 + fingerprintLength),
    nonce: Buffer.from(buffer.subarray(11 + fingerprintLength, 11 + fingerprintLength + NONCE_BYTES)),
    byteLength: length,
  };
}

export interface OpenedLog {
  /** The output, decrypted (a plain log's bytes as they are). */
  readonly output: Buffer;
  readonly encrypted: boolean;
  /** An encrypted log ended with its `end` frame (a plain log: always true, it cannot tell). */
  readonly complete: boolean;
  /** Bytes of a last frame cut short (a crash while it was written), dropped. */
  readonly tornBytes: number;
}

/**
 * A whole log file's output. Throws StorageError 'missingKey' / 'wrongKey' for an encrypted log
 * without its key (locked, not damaged), 'decryptFailed' for a whole frame that does not open or
 * bytes after the end frame (damaged or tampered with).
 */
export function openLogBytes(bytes: Buffer, cipher: JobFileKey, what = 'The output log'): OpenedLog {
  const header = parseSealedLogHeader(bytes);
  if (!header) return { output: bytes, encrypted: false, complete: true, tornBytes: 0 };
  const key = requireKey(header.keyFingerprint, cipher, what);
  const parts: Buffer[] = [];
  let offset = header.byteLength;
  let index = 0;
  let complete = false;
  while (offset < bytes.length) {
    if (complete) throw new StorageError('decryptFailed', `${what} has ${bytes.length - offset} bytes after its end: it was changed.`);
    if (bytes.length - offset < 4) break;
    const length = bytes.readUInt32LE(offset);
    if (offset + 4 + length > bytes.length) break;
    const plain = key.open(bytes.subarray(offset + 4, offset + 4 + length), frameAssociatedData(header.nonce, index));
    const kind = plain[0];
    if (kind === KIND_END) complete = true;
    else if (kind === KIND_OUTPUT) parts.push(Buffer.from(plain.subarray(1)));
    else throw new StorageError('decryptFailed', `${what} holds a frame of an unknown kind (${String(kind)}).`);
    offset += 4 + length;
    index++;
  }
  return { output: Buffer.concat(parts), encrypted: true, complete, tornBytes: bytes.length - offset };
}
