import { resealArchiveParts } from '../history/archiveRekey';
import { writeFileAtomic } from '../storage/atomicFile';
import { decodeBackup, encodeBackup, MAX_HEADER_BYTES, parseBackupHeader, resolveLimits } from '../storage/backupFile';
import { readBackupBytes } from '../storage/backupFileIo';
import type { BackupPart } from '../storage/backupTypes';
import type { KeyRing } from '../storage/reseal';
import { cipherFor, isSealedAs, isSnapshotFormat, resealSnapshot } from '../storage/reseal';
import { ARCHIVE_PART_PREFIX } from './runtimeRestore';

/**
 * Rewrites one backup file under `ring.to` (docs/encryption.md): the file's own seal and each
 * part's (a store's snapshot, the archive's shards and index), so that a backup taken before
 * encryption was turned on holds no plain copy afterwards, and one taken before it was turned off
 * still restores once the key is gone. Atomic: the file is either as it was or fully re-sealed.
 * Returns false for a file left as it is because it cannot be read (damaged, or another key's).
 */
export async function resealBackupFile(path: string, ring: KeyRing): Promise<boolean> {
  let decoded;
  try {
    const bytes = await readBackupBytes(path);
    const header = parseBackupHeader(bytes.subarray(0, MAX_HEADER_BYTES), bytes.byteLength, resolveLimits(undefined));
    const cipher = header.keyFingerprint !== undefined ? cipherFor(ring, header.keyFingerprint) : undefined;
    decoded = await decodeBackup(bytes, { cipher });
  } catch {
    return false;
  }
  const archive = new Map<string, Uint8Array>();
  const parts: BackupPart[] = [];
  let changed = !isSealedAs(decoded.keyFingerprint, ring.to);
  for (const part of decoded.parts) {
    if (part.name.startsWith(ARCHIVE_PART_PREFIX)) {
      archive.set(part.name.slice(ARCHIVE_PART_PREFIX.length), part.bytes);
      continue;
    }
    const bytes = isSnapshotFormat(part.bytes) ? await resealSnapshot(part.bytes, ring) : part.bytes;
    changed ||= bytes !== part.bytes;
    parts.push({ ...part, bytes });
  }
  if (archive.size > 0) {
    const resealed = await resealArchiveParts(archive, ring);
    for (const [name, bytes] of resealed) {
      changed ||= bytes !== archive.get(name);
      const summary = decoded.parts.find((part) => part.name === ARCHIVE_PART_PREFIX + name)?.summary ?? '';
      parts.push({ name: ARCHIVE_PART_PREFIX + name, bytes, summary });
    }
  }
  if (!changed) return true;
  const { manifest } = decoded;
  const file = await encodeBackup(
    parts,
    { createdAt: new Date(manifest.createdAt), appVersion: manifest.appVersion, reason: manifest.reason },
    { cipher: ring.to, compress: decoded.compressed },
  );
  await writeFileAtomic(path, file);
  return true;
}
