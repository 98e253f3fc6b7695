import { crc32 } from 'node:zlib';
import type { RecoveryContext } from './recoveryRun';
import type { JournalEnd, JournalHead } from './journal';
import { FRAME_HEADER_BYTES, scanJournal } from './journalFormat';
import type { ScannedRecord } from './journalFormat';
import { fsp as fs } from './storageFs';
import type { DataLossCause } from './storeEvents';
import type { SnapshotRef, StoreManifest } from './storeManifest';
import { acknowledgedBetween, manifestPath, snapshotMatches } from './storeManifest';

/**
 * The line between a crash's torn write and damage. The manifest names each journal's
 * acknowledged end: its length and the crc32 of every byte before it, all synced before the
 * manifest was written. A file that is gone, empty, shorter than that, or whose prefix differs
 * lost acknowledged records: damage, whatever its bytes look like. Only bytes past that end can be
 * a torn write, and only after a crash (manifest not clean): the batches appended since the
 * manifest's last advance. After a clean close nothing follows the end, so a cut there is damage.
 */
export function checkAcknowledgedPrefix(
  bytes: Buffer,
  end: JournalEnd,
  path: string,
): { cause: DataLossCause; detail: string } | undefined {
  if (bytes.length === 0) return { cause: 'journalEmptied', detail: `journal ${path} is empty; it held records through ${end.sequence}` };
  if (bytes.length < end.bytes) {
    return {
      cause: 'journalCut',
      detail: `journal ${path} is ${bytes.length} bytes, shorter than its acknowledged ${end.bytes} (records through ${end.sequence})`,
    };
  }
  if (crc32(bytes.subarray(0, end.bytes)) !== end.crc) {
    return { cause: 'journalDamaged', detail: `the first ${end.bytes} bytes of journal ${path} do not match their acknowledged checksum` };
  }
  return undefined;
}

/** One `dataLost` when acknowledged records may be gone; `repaired` for what was fixed without loss. */
export function reportLoss(
  context: Pick<RecoveryContext<unknown, unknown>, 'name' | 'directory' | 'emit' | 'logger' | 'clock'>,
  found: {
    loss: { cause: DataLossCause; detail: string } | undefined;
    repairs: readonly { cause: DataLossCause; file: string; detail: string }[];
    manifest: StoreManifest | undefined;
    acknowledged: number | undefined;
    sequence: number;
  },
): void {
  const { loss, manifest, acknowledged, sequence } = found;
  const repairs = [...found.repairs];
  const clean = manifest?.clean === true;
  if (loss && clean && acknowledged !== undefined && sequence >= acknowledged) {
    // A clean close names the very last record: the state reaches it, so the damage took nothing.
    repairs.push({ cause: loss.cause, file: manifestPath(context), detail: `${loss.detail}; every acknowledged record came back` });
  } else if (loss) {
    const fromSequence = sequence + 1;
    // After a crash records may have been acknowledged after the manifest's last advance: the end is unknown.
    const toSequence = clean ? acknowledged : undefined;
    context.emit({
      type: 'dataLost',
      store: context.name,
      cause: loss.cause,
      fromSequence,
      toSequence,
      records: toSequence === undefined ? undefined : toSequence - fromSequence + 1,
      acknowledgedBetween: manifest ? acknowledgedBetween(manifest, fromSequence, toSequence, context.clock.now()) : undefined,
      detail: loss.detail,
    });
  }
  for (const repair of repairs) {
    context.logger.warn(`[storage:${context.name}] ${repair.detail}`);
    context.emit({ type: 'repaired', store: context.name, file: repair.file, cause: repair.cause, detail: repair.detail });
  }
}

/** True when none of `journals` holds a record: each has a whole header and nothing after it, or (the last) a torn header. */
export async function journalsHoldNoRecord(journals: readonly { readonly path: string }[]): Promise<boolean> {
  for (const [index, journal] of journals.entries()) {
    const bytes = await fs.readFile(journal.path).catch(() => undefined);
    if (bytes === undefined) return false;
    const scan = scanJournal(bytes);
    if (scan.header === 'torn' && index === journals.length - 1) continue;
    if (scan.header === 'torn' || scan.header === 'corrupt' || scan.records.length > 0 || scan.damage) return false;
  }
  return true;
}

/**
 * The ack mark, when it can only tighten what the manifest says: it names the newest journal the
 * manifest knows of, or one after it (a rotation since the manifest's last write). An older mark
 * (left by a session before the last compaction) says nothing about today's journals.
 */
export function usableAckMark(manifest: StoreManifest | undefined, mark: JournalEnd | undefined): JournalEnd | undefined {
  if (!mark) return undefined;
  if (!manifest) return mark;
  const newest = Math.max(manifest.snapshot?.generation ?? 0, ...manifest.journals.map((end) => end.generation));
  return mark.generation >= newest ? mark : undefined;
}

/**
 * Whether the snapshot file is the one this store wrote. The generation the manifest names must
 * have its checksum. A newer generation is a compaction whose manifest was not written yet, and
 * then its journal is already there (a compaction creates it before the snapshot) and it reaches at
 * least as far; anything else (an older generation, or a newer one without its journal) is
 * another store's file or a stale copy.
 */
export function snapshotIsOurs(
  manifest: StoreManifest | undefined,
  header: SnapshotRef,
  crc: number,
  journals: readonly { readonly generation: number }[],
): boolean {
  if (!manifest) return true;
  const named = manifest.snapshot;
  if (named && header.generation === named.generation) return snapshotMatches(named, header.generation, crc);
  const newer = !named || header.generation > named.generation;
  return newer && header.sequence >= (named?.sequence ?? 0) && journals.some((journal) => journal.generation === header.generation);
}

/** A cut file is ours, and its records a prefix of ours, only when its first acknowledged point is. */
export function headMatches(bytes: Buffer, head: JournalHead): boolean {
  return bytes.length >= head.bytes && crc32(bytes.subarray(0, head.bytes)) === head.crc;
}

/** The header and first record of a journal reopened for appends: its first acknowledged point. */
export function headOf(bytes: Buffer, headerBytes: number, first: ScannedRecord | undefined): JournalHead | undefined {
  if (!first) return undefined;
  const length = headerBytes + FRAME_HEADER_BYTES + first.payload.length;
  return { bytes: length, crc: crc32(bytes.subarray(0, length)) };
}
