import { fsp as fs } from './storageFs';
import type { FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from './atomicFile';
import {
  MAX_HEADER_BYTES,
  decodeBackup,
  encodeBackup,
  maxFileBytes,
  parseBackupHeader,
  readManifest,
  resolveLimits,
  truncated,
} from './backupFile';
import type { BackupHeader, BackupMetadata, DecodeBackupOptions, DecodedBackup, EncodeBackupOptions } from './backupFile';
import { InvalidBackupError, SHA256_BYTES } from './backupFormat';
import type { BackupLimits, BackupManifest } from './backupFormat';
import type { BackupPart } from './backupTypes';

/**
 * Backup files on disk: written atomically, read with a bounded read (never past the size seen,
 * never more than the limits allow), and only from regular files. The format is in backupFile.ts.
 */

/** Writes a backup atomically (never half a file under its final name). Returns its size. */
export async function writeBackupFile(
  path: string,
  parts: readonly BackupPart[],
  metadata: BackupMetadata,
  options: EncodeBackupOptions = {},
): Promise<number> {
  const bytes = await encodeBackup(parts, metadata, options);
  await writeFileAtomic(path, bytes);
  return bytes.byteLength;
}

/**
 * Opens a backup for reading, refusing anything but a regular file: a symlink to /dev/zero or a
 * FIFO given a backup's name would otherwise never end or block forever.
 */
async function openRegularFile(path: string): Promise<FileHandle> {
  if (!(await fs.lstat(path)).isFile()) {
    throw new InvalidBackupError('notABackup', `${path} is not a regular file, so it is not read as a backup.`);
  }
  return fs.open(path, 'r');
}

async function readWhole(path: string, limits: BackupLimits): Promise<Uint8Array> {
  const handle = await openRegularFile(path);
  try {
    const { size } = await handle.stat();
    if (size > maxFileBytes(limits)) {
      throw new InvalidBackupError('fileTooLarge', `The backup file is ${size} bytes, more than the ${maxFileBytes(limits)} accepted.`);
    }
    // Exactly the size seen: a file that grows while it is read is judged on what it was.
    const bytes = Buffer.alloc(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await handle.read(bytes, offset, size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    return bytes.subarray(0, offset);
  } finally {
    await handle.close();
  }
}

/**
 * A file's bytes as a backup reader takes them (a regular file only, no larger than the limits
 * allow), not verified yet: for a copy whose bytes must be the ones verified (import, export).
 */
export function readBackupBytes(path: string, limits?: Partial<BackupLimits>): Promise<Uint8Array> {
  return readWhole(path, resolveLimits(limits));
}

/** Reads a backup file and verifies all of it (see decodeBackup). */
export async function readBackupFile(path: string, options: DecodeBackupOptions = {}): Promise<DecodedBackup> {
  return decodeBackup(await readWhole(path, resolveLimits(options.limits)), options);
}

/** What `list` shows: the header and manifest only, checked without reading the body. */
export interface BackupSummary {
  readonly header: BackupHeader;
  readonly manifest: BackupManifest;
}

/**
 * Reads a backup's header and manifest, checking the header against the file's size and the
 * manifest against its checksum and schema. Cheap: the body is not read, so a damaged body
 * shows only in readBackupFile.
 */
export async function readBackupSummary(path: string, options: DecodeBackupOptions = {}): Promise<BackupSummary> {
  const limits = resolveLimits(options.limits);
  const handle = await openRegularFile(path);
  try {
    const header = await readHeader(handle, limits);
    const front = Buffer.alloc(header.headerLength + header.manifestLength + SHA256_BYTES);
    const { bytesRead } = await handle.read(front, 0, front.byteLength, 0);
    if (bytesRead !== front.byteLength) throw truncated('manifest', header.fileLength);
    return { header, manifest: readManifest(front, header, options.cipher, limits) };
  } finally {
    await handle.close();
  }
}

/** Reads and checks only a file's header: enough to learn which key an encrypted backup needs. */
export async function readBackupHeader(path: string, limits?: Partial<BackupLimits>): Promise<BackupHeader> {
  const handle = await openRegularFile(path);
  try {
    return await readHeader(handle, resolveLimits(limits));
  } finally {
    await handle.close();
  }
}

async function readHeader(handle: FileHandle, limits: BackupLimits): Promise<BackupHeader> {
  const { size } = await handle.stat();
  const prefix = Buffer.alloc(Math.min(size, MAX_HEADER_BYTES));
  const { bytesRead } = await handle.read(prefix, 0, prefix.byteLength, 0);
  return parseBackupHeader(prefix.subarray(0, bytesRead), size, limits);
}
