import { createHash } from 'node:crypto';
import type { BackupPart } from './backupTypes';
import type { RecordCipher } from './cipher';
import { gunzip, gzip } from './compression';
import { StorageError } from './errors';
import {
  BACKUP_FORMAT_VERSION,
  BACKUP_MAGIC,
  FIXED_HEADER_BYTES,
  FLAG_ENCRYPTED,
  FLAG_GZIP,
  InvalidBackupError,
  KNOWN_FLAGS,
  LENGTHS_BYTES,
  MAX_FINGERPRINT_BYTES,
  SHA256_BYTES,
  backupManifestSchema,
  checkManifestParts,
  defaultBackupLimits,
} from './backupFormat';
import type { BackupLimits, BackupManifest, BackupReason } from './backupFormat';

/**
 * One self-describing backup file holding every store. Byte layout (integers big-endian):
 *
 *   0       8  magic 89 4C 4C 42 4B 0D 0A 1A ("\x89LLBK\r\n\x1a")
 *   8       2  format version (1)
 *   10      2  flags: bit 0 = body gzip-compressed, bit 1 = encrypted; other bits must be 0
 *   12      1  F = key fingerprint length (0 unless encrypted, then 1..64)
 *   13      F  key fingerprint, lowercase hex ASCII
 *   13+F    4  M = manifest length on disk
 *   17+F    8  B = body length on disk
 *   25+F    M  manifest: JSON (backupManifestSchema); when encrypted, sealed with AAD = bytes [0, 25+F)
 *   ..     32  SHA-256 of the M manifest bytes (lets `list` check a manifest without reading the body)
 *   ..      B  body: the parts' bytes concatenated in manifest order, gzip-compressed if bit 0,
 *              then sealed if bit 1 with AAD = SHA-256 of every byte before the body
 *   ..     32  SHA-256 of every byte before it
 *
 * Compression comes before encryption (ciphertext does not compress). The body's AAD binds it to
 * its header and manifest, so bodies cannot be swapped between backups made with one key.
 */

export interface BackupMetadata {
  readonly createdAt: Date;
  readonly appVersion: string;
  readonly reason: BackupReason;
}

export interface EncodeBackupOptions {
  /** Encrypts the whole file (manifest and body); the header carries the key fingerprint. */
  readonly cipher?: RecordCipher;
  /** gzip the body. @default true */
  readonly compress?: boolean;
  /** Refuses to write what a reader with these limits would refuse. @default defaultBackupLimits */
  readonly limits?: Partial<BackupLimits>;
}

export interface DecodeBackupOptions {
  /** Needed to read an encrypted backup; without it one is refused with StorageError('missingKey'). */
  readonly cipher?: RecordCipher;
  /** @default defaultBackupLimits */
  readonly limits?: Partial<BackupLimits>;
}

/** A backup read back and verified in full. */
export interface DecodedBackup {
  readonly manifest: BackupManifest;
  /** In manifest order; the bytes are views into one buffer. */
  readonly parts: readonly BackupPart[];
  readonly compressed: boolean;
  /** Set when the file is encrypted. */
  readonly keyFingerprint?: string;
}

/** The fixed part of a file, checked against the file's real size. */
export interface BackupHeader {
  readonly formatVersion: number;
  readonly compressed: boolean;
  readonly encrypted: boolean;
  readonly keyFingerprint?: string;
  readonly headerLength: number;
  readonly manifestLength: number;
  readonly bodyLength: number;
  readonly fileLength: number;
}

/** The longest header: a file's first this many bytes are enough for parseBackupHeader. */
export const MAX_HEADER_BYTES = FIXED_HEADER_BYTES + MAX_FINGERPRINT_BYTES + LENGTHS_BYTES;

export function resolveLimits(limits: Partial<BackupLimits> | undefined): BackupLimits {
  return { ...defaultBackupLimits, ...limits };
}

/** Largest file worth reading: the largest body, gzip's worst-case growth, the largest manifest. */
export function maxFileBytes(limits: BackupLimits): number {
  return Math.ceil(limits.maxTotalBytes * 1.01) + limits.maxManifestBytes + MAX_HEADER_BYTES + 2 * SHA256_BYTES + 4096;
}

function sha256(...chunks: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

export function truncated(what: string, fileLength: number): InvalidBackupError {
  return new InvalidBackupError(
    'truncated',
    `The backup file is cut short: its ${what} runs past the end of the file (${fileLength} bytes).`,
  );
}

/**
 * Parses and checks the header from a file's first bytes (`prefix`, at most MAX_HEADER_BYTES are
 * looked at) against the file's real length. Throws InvalidBackupError.
 */
export function parseBackupHeader(prefix: Uint8Array, fileLength: number, limits: BackupLimits): BackupHeader {
  const view = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const magicLength = Math.min(view.byteLength, BACKUP_MAGIC.byteLength);
  if (!view.subarray(0, magicLength).equals(BACKUP_MAGIC.subarray(0, magicLength)) || fileLength === 0) {
    throw new InvalidBackupError('notABackup', 'This is not a Lifeline backup file (its first bytes are not the backup magic number).');
  }
  if (view.byteLength < FIXED_HEADER_BYTES) throw truncated('header', fileLength);
  const formatVersion = view.readUInt16BE(8);
  if (formatVersion !== BACKUP_FORMAT_VERSION) {
    throw new InvalidBackupError(
      'unsupportedVersion',
      `The backup has format version ${formatVersion}; this version of Lifeline reads version ${BACKUP_FORMAT_VERSION} only.`,
    );
  }
  const flags = view.readUInt16BE(10);
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new InvalidBackupError(
      'unknownFlags',
      `The backup uses features this version of Lifeline does not know (flags 0x${flags.toString(16)}).`,
    );
  }
  const encrypted = (flags & FLAG_ENCRYPTED) !== 0;
  const fingerprintLength = view.readUInt8(12);
  if (encrypted ? fingerprintLength === 0 || fingerprintLength > MAX_FINGERPRINT_BYTES : fingerprintLength !== 0) {
    throw new InvalidBackupError(
      'badFingerprint',
      `The backup's key fingerprint field is invalid (${fingerprintLength} bytes for ${encrypted ? 'an encrypted' : 'a plain'} file).`,
    );
  }
  const headerLength = FIXED_HEADER_BYTES + fingerprintLength + LENGTHS_BYTES;
  if (view.byteLength < headerLength) throw truncated('header', fileLength);
  let keyFingerprint: string | undefined;
  if (encrypted) {
    keyFingerprint = view.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + fingerprintLength).toString('latin1');
    if (!/^[0-9a-f]+$/.test(keyFingerprint)) {
      throw new InvalidBackupError('badFingerprint', "The backup's key fingerprint is not hexadecimal.");
    }
  }
  const manifestLength = view.readUInt32BE(FIXED_HEADER_BYTES + fingerprintLength);
  const bodyLengthBig = view.readBigUInt64BE(FIXED_HEADER_BYTES + fingerprintLength + 4);
  if (manifestLength > limits.maxManifestBytes) {
    throw new InvalidBackupError(
      'manifestTooLarge',
      `The backup's manifest declares ${manifestLength} bytes; at most ${limits.maxManifestBytes} are accepted.`,
    );
  }
  const beforeBody = headerLength + manifestLength + SHA256_BYTES;
  if (beforeBody > fileLength) throw truncated(`manifest (${manifestLength} bytes)`, fileLength);
  if (bodyLengthBig > BigInt(fileLength)) throw truncated(`body (declared ${bodyLengthBig} bytes)`, fileLength);
  const bodyLength = Number(bodyLengthBig);
  const expected = beforeBody + bodyLength + SHA256_BYTES;
  if (expected > fileLength) throw truncated(`body (declared ${bodyLength} bytes)`, fileLength);
  if (expected < fileLength) {
    throw new InvalidBackupError('trailingData', `The backup file has ${fileLength - expected} unexpected bytes after its end.`);
  }
  return {
    formatVersion,
    compressed: (flags & FLAG_GZIP) !== 0,
    encrypted,
    keyFingerprint,
    headerLength,
    manifestLength,
    bodyLength,
    fileLength,
  };
}

function checkKey(header: BackupHeader, cipher: RecordCipher | undefined): RecordCipher | undefined {
  if (!header.encrypted) return undefined;
  if (cipher === undefined) {
    throw new StorageError('missingKey', `The backup is encrypted with key ${header.keyFingerprint}, and no key was given to read it.`);
  }
  if (cipher.keyFingerprint !== header.keyFingerprint) {
    throw new StorageError(
      'wrongKey',
      `The backup is encrypted with key ${header.keyFingerprint}, not with the key given (${cipher.keyFingerprint}).`,
    );
  }
  return cipher;
}

/** Verifies, decrypts and validates the manifest section (bytes from the header's end); `file` may end after it. */
export function readManifest(
  file: Uint8Array,
  header: BackupHeader,
  cipher: RecordCipher | undefined,
  limits: BackupLimits,
): BackupManifest {
  const start = header.headerLength;
  const onDisk = file.subarray(start, start + header.manifestLength);
  const recorded = file.subarray(start + header.manifestLength, start + header.manifestLength + SHA256_BYTES);
  if (!sha256(onDisk).equals(recorded)) {
    throw new InvalidBackupError('manifestChecksum', "The backup's manifest does not match its checksum: the file is damaged.");
  }
  const key = checkKey(header, cipher);
  const plain = key === undefined ? onDisk : key.open(onDisk, file.subarray(0, header.headerLength));
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain));
  } catch (error) {
    throw new InvalidBackupError('manifestInvalid', `The backup's manifest is not valid JSON: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  const parsed = backupManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidBackupError('manifestInvalid', `The backup's manifest is invalid${where}: ${issue?.message ?? 'unknown problem'}.`);
  }
  checkManifestParts(parsed.data.parts, limits);
  return parsed.data;
}

/**
 * Reads a whole backup from memory and verifies every part of it before returning anything.
 * Throws InvalidBackupError (StorageError 'invalidBackup') naming the problem, or
 * StorageError 'missingKey' / 'wrongKey' / 'decryptFailed' for an encrypted file.
 */
export async function decodeBackup(file: Uint8Array, options: DecodeBackupOptions = {}): Promise<DecodedBackup> {
  const limits = resolveLimits(options.limits);
  const header = parseBackupHeader(file.subarray(0, MAX_HEADER_BYTES), file.byteLength, limits);
  const trailerStart = file.byteLength - SHA256_BYTES;
  if (!sha256(file.subarray(0, trailerStart)).equals(file.subarray(trailerStart))) {
    throw new InvalidBackupError('fileChecksum', 'The backup file does not match its checksum: it is damaged or was changed.');
  }
  const manifest = readManifest(file, header, options.cipher, limits);
  const bodyStart = header.headerLength + header.manifestLength + SHA256_BYTES;
  let body = file.subarray(bodyStart, bodyStart + header.bodyLength);
  const cipher = checkKey(header, options.cipher);
  if (cipher !== undefined) body = cipher.open(body, sha256(file.subarray(0, bodyStart)));
  const declared = manifest.parts.reduce((sum, part) => sum + part.size, 0);
  if (header.compressed) {
    try {
      // Inflating past the declared total is refused at once: that is how a zip bomb is stopped.
      body = await gunzip(body, { maxOutputBytes: Math.max(1, declared) });
    } catch (error) {
      if (StorageError.is(error, 'decompressTooLarge')) {
        throw new InvalidBackupError(
          'inflatedTooLarge',
          `The backup's body inflates to more than the ${declared} bytes its manifest declares; it was refused.`,
          { cause: error },
        );
      }
      throw new InvalidBackupError('corruptCompression', `The backup's compressed body is damaged: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (body.byteLength !== declared) {
    throw new InvalidBackupError(
      'sizeMismatch',
      `The backup's parts declare ${declared} bytes in all, but its body holds ${body.byteLength}.`,
    );
  }
  const parts: BackupPart[] = [];
  let offset = 0;
  for (const entry of manifest.parts) {
    const bytes = body.subarray(offset, offset + entry.size);
    offset += entry.size;
    if (sha256(bytes).toString('hex') !== entry.sha256) {
      throw new InvalidBackupError(
        'partChecksum',
        `The part ${JSON.stringify(entry.name)} of the backup does not match its checksum: it is damaged or was changed.`,
      );
    }
    parts.push({ name: entry.name, bytes, summary: entry.summary });
  }
  return { manifest, parts, compressed: header.compressed, keyFingerprint: header.keyFingerprint };
}

/** Builds a backup file in memory. Refuses parts that a reader would refuse (names, sizes). */
export async function encodeBackup(
  parts: readonly BackupPart[],
  metadata: BackupMetadata,
  options: EncodeBackupOptions = {},
): Promise<Uint8Array> {
  checkManifestParts(
    parts.map((part) => ({ name: part.name, size: part.bytes.byteLength })),
    resolveLimits(options.limits),
  );
  const manifest: BackupManifest = {
    formatVersion: BACKUP_FORMAT_VERSION,
    createdAt: metadata.createdAt.toISOString(),
    appVersion: metadata.appVersion,
    reason: metadata.reason,
    parts: parts.map((part) => ({
      name: part.name,
      size: part.bytes.byteLength,
      sha256: sha256(part.bytes).toString('hex'),
      summary: part.summary,
    })),
  };
  backupManifestSchema.parse(manifest);
  const compress = options.compress ?? true;
  const cipher = options.cipher;
  const fingerprint = Buffer.from(cipher?.keyFingerprint ?? '', 'latin1');
  if (fingerprint.byteLength > MAX_FINGERPRINT_BYTES) {
    throw new StorageError('invalidKey', 'The key fingerprint is too long for a backup header.');
  }

  let body: Uint8Array = Buffer.concat(parts.map((part) => part.bytes));
  if (compress) body = await gzip(body);
  const header = Buffer.alloc(FIXED_HEADER_BYTES + fingerprint.byteLength + LENGTHS_BYTES);
  header.set(BACKUP_MAGIC, 0);
  header.writeUInt16BE(BACKUP_FORMAT_VERSION, 8);
  header.writeUInt16BE((compress ? FLAG_GZIP : 0) | (cipher ? FLAG_ENCRYPTED : 0), 10);
  header.writeUInt8(fingerprint.byteLength, 12);
  header.set(fingerprint, FIXED_HEADER_BYTES);
  const manifestPlain = Buffer.from(JSON.stringify(manifest), 'utf8');
  // The header holds the sealed lengths and is itself the manifest's AAD, so the lengths are
  // worked out from the cipher's fixed overhead before anything is sealed.
  const overhead = cipher ? cipher.seal(new Uint8Array(0), new Uint8Array(0)).byteLength : 0;
  header.writeUInt32BE(manifestPlain.byteLength + overhead, FIXED_HEADER_BYTES + fingerprint.byteLength);
  header.writeBigUInt64BE(BigInt(body.byteLength + overhead), FIXED_HEADER_BYTES + fingerprint.byteLength + 4);
  const manifestOnDisk = cipher ? cipher.seal(manifestPlain, header) : manifestPlain;
  const manifestSum = sha256(manifestOnDisk);
  const bodyOnDisk = cipher ? cipher.seal(body, sha256(header, manifestOnDisk, manifestSum)) : body;
  if (manifestOnDisk.byteLength !== manifestPlain.byteLength + overhead || bodyOnDisk.byteLength !== body.byteLength + overhead) {
    throw new StorageError('invalidKey', 'The cipher does not add a fixed overhead to what it seals, which backups need.');
  }
  const withoutTrailer = Buffer.concat([header, manifestOnDisk, manifestSum, bodyOnDisk]);
  return Buffer.concat([withoutTrailer, sha256(withoutTrailer)]);
}
