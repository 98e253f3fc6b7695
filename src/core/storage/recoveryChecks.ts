import { crc32 } from 'node:zlib';
import type { RecoveryContext } from './durableRecovery';
import type { JournalEnd } from './journal';
import { scanJournal } from './journalFormat';
import { fsp as fs } from './storageFs';
import type { DataLossCause } from './storeEvents';
import type { StoreManifest } from './storeManifest';
import { acknowledgedBetween, manifestPath } from './storeManifest';

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
