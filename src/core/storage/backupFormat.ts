import { z } from 'zod';
import { StorageError } from './errors';

/**
 * The pieces of the backup file format shared by the writer and the reader (backupFile.ts):
 * magic number, version, limits, manifest schema, part name rules and the refusal error.
 * The byte layout is documented in backupFile.ts.
 */

/** PNG-style magic: a high byte and CR LF catch a file mangled by a text-mode transfer. */
export const BACKUP_MAGIC = Uint8Array.from([0x89, 0x4c, 0x4c, 0x42, 0x4b, 0x0d, 0x0a, 0x1a]); // \x89 L L B K \r \n \x1a
export const BACKUP_FORMAT_VERSION = 1;
export const BACKUP_FILE_EXTENSION = '.llbackup';
export const FLAG_GZIP = 0x1;
export const FLAG_ENCRYPTED = 0x2;
export const KNOWN_FLAGS = FLAG_GZIP | FLAG_ENCRYPTED;
export const SHA256_BYTES = 32;
/** magic, version u16, flags u16, fingerprint length u8 (then the fingerprint), manifest length u32, body length u64. */
export const FIXED_HEADER_BYTES = BACKUP_MAGIC.byteLength + 2 + 2 + 1;
export const LENGTHS_BYTES = 4 + 8;
export const MAX_FINGERPRINT_BYTES = 64;

export const backupReasons = ['manual', 'beforeMigration', 'beforeRestore', 'scheduled'] as const;
/** Why a backup was made. Every reason but 'manual' is automatic and rotated. */
export type BackupReason = (typeof backupReasons)[number];

/** Upper bounds on what a reader accepts, so a hostile file cannot claim unbounded memory. */
export interface BackupLimits {
  /** Largest part. @default 512 MiB */
  readonly maxPartBytes: number;
  /** Largest sum of all parts (the inflated body). @default 1 GiB */
  readonly maxTotalBytes: number;
  /** Most parts in one backup. @default 256 */
  readonly maxParts: number;
  /** Largest manifest. @default 1 MiB */
  readonly maxManifestBytes: number;
}

export const defaultBackupLimits: BackupLimits = {
  maxPartBytes: 512 * 1024 * 1024,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxParts: 256,
  maxManifestBytes: 1024 * 1024,
};

/** Everything a file can be refused for; one value per check so callers and tests can branch on it. */
export type BackupProblem =
  | 'notABackup'
  | 'unsupportedVersion'
  | 'unknownFlags'
  | 'badFingerprint'
  | 'truncated'
  | 'trailingData'
  | 'fileTooLarge'
  | 'fileChecksum'
  | 'manifestTooLarge'
  | 'manifestChecksum'
  | 'manifestInvalid'
  | 'tooManyParts'
  | 'partName'
  | 'duplicatePart'
  | 'partTooLarge'
  | 'totalTooLarge'
  | 'sizeMismatch'
  | 'partChecksum'
  | 'corruptCompression'
  | 'inflatedTooLarge'
  | 'nothingToRestore';

/** StorageError('invalidBackup') with the exact problem as a machine-readable field. */
export class InvalidBackupError extends StorageError {
  constructor(
    readonly problem: BackupProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('invalidBackup', message, options);
  }

  static isProblem(error: unknown, problem?: BackupProblem): error is InvalidBackupError {
    return error instanceof InvalidBackupError && (problem === undefined || error.problem === problem);
  }
}

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * Why `name` cannot be a part name, or undefined when it can. Names become store names and may
 * become file names, so anything that could walk out of a folder or mean a device is refused.
 */
export function partNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 64) return 'it is longer than 64 characters';
  if (name.includes('\0')) return 'it contains a NUL character';
  if (name.includes('/') || name.includes('\\')) return 'it contains a path separator';
  if (name.includes('..')) return 'it contains ".."';
  if (/^[a-zA-Z]:/.test(name)) return 'it is an absolute path';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) return 'only letters, digits, "-", "_" and "." are allowed, not first "." or "-"';
  if (WINDOWS_DEVICE.test(name)) return 'it is a reserved device name on Windows';
  return undefined;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 as 64 lowercase hex digits');

export const backupPartEntrySchema = z.strictObject({
  name: z.string(),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
  summary: z.string().max(500),
});
export type BackupPartEntry = z.infer<typeof backupPartEntrySchema>;

export const backupManifestSchema = z.strictObject({
  formatVersion: z.literal(BACKUP_FORMAT_VERSION),
  createdAt: z.iso.datetime(),
  appVersion: z.string().max(100),
  reason: z.enum(backupReasons),
  parts: z.array(backupPartEntrySchema),
});
/** What a backup holds, readable without its body (`list` shows it). */
export type BackupManifest = z.infer<typeof backupManifestSchema>;

/**
 * Checks what the schema cannot: names, duplicates (case-insensitively, for case-insensitive
 * file systems) and sizes against the limits. Throws InvalidBackupError.
 */
export function checkManifestParts(parts: readonly { name: string; size: number }[], limits: BackupLimits): void {
  if (parts.length > limits.maxParts) {
    throw new InvalidBackupError('tooManyParts', `The backup lists ${parts.length} parts; at most ${limits.maxParts} are accepted.`);
  }
  const seen = new Set<string>();
  let total = 0;
  for (const part of parts) {
    const problem = partNameProblem(part.name);
    if (problem !== undefined) {
      throw new InvalidBackupError('partName', `The backup has a part named ${JSON.stringify(part.name)}, which is refused: ${problem}.`);
    }
    const folded = part.name.toLowerCase();
    if (seen.has(folded)) {
      throw new InvalidBackupError('duplicatePart', `The backup has the part ${JSON.stringify(part.name)} more than once.`);
    }
    seen.add(folded);
    if (part.size > limits.maxPartBytes) {
      throw new InvalidBackupError(
        'partTooLarge',
        `The part ${JSON.stringify(part.name)} declares ${part.size} bytes; at most ${limits.maxPartBytes} are accepted.`,
      );
    }
    total += part.size;
  }
  if (total > limits.maxTotalBytes) {
    throw new InvalidBackupError(
      'totalTooLarge',
      `The backup's parts add up to ${total} bytes; at most ${limits.maxTotalBytes} are accepted.`,
    );
  }
}
