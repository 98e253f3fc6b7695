import { fsp as fs } from './storageFs';
import { crc32 } from 'node:zlib';
import { StorageError } from './errors';
import type { JournalEnd } from './journal';
import type { JournalDamage } from './journalFormat';
import { decodeBatch, recordAssociatedData, scanJournal } from './journalFormat';
import { checkAcknowledgedPrefix, headMatches, headOf, journalsHoldNoRecord } from './recoveryChecks';
import type { AppendTarget, RecoveryRun } from './recoveryRun';
import { endOf } from './recoveryRun';
import { quarantineBytes, toStorageError } from './storageIo';

/** A journal generation to open: on disk, or named by the manifest and gone. */
export interface JournalEntry {
  readonly generation: number;
  readonly path: string;
  readonly exists: boolean;
}

export interface Replayed {
  /** The last journal, to append to if its encryption matches; undefined after damage. */
  readonly append: AppendTarget | undefined;
  /** Acknowledged ends of the journals before `append` that stay on disk. */
  readonly ends: JournalEnd[];
  /** Journals to quarantine once the verified state is durable in a fresh snapshot. */
  readonly setAside: { path: string; reason: 'corruptJournal' | 'sequenceGap'; detail: string }[];
  readonly replayed: number;
  /** A journal's header says the store keeps a manifest. */
  readonly manifested: boolean;
}

/**
 * Replays every journal generation onto the state, in order, checking each against its acknowledged
 * end (`expected`) and that sequence numbers run on without a gap. What verifies before damage is
 * applied; the damaged file and every later one are set aside (moved to quarantine only once the
 * verified state is durable in a fresh snapshot: moved before it, a power cut in between would lose
 * the acknowledged records of their good prefix; docs/power-loss-testing.md). A torn tail past the
 * acknowledged end after a crash is copied to quarantine/ and cut.
 */
export async function replayJournals<S, R>(
  run: RecoveryRun<S, R>,
  entries: readonly JournalEntry[],
  expected: ReadonlyMap<number, JournalEnd>,
): Promise<Replayed> {
  const { context, manifest } = run;
  const { codec, cipher, name } = context;
  let replayed = 0;
  let manifested = false;
  const ends: JournalEnd[] = [];
  let append: AppendTarget | undefined;
  const setAside: Replayed['setAside'] = [];
  for (let index = 0; index < entries.length; index++) {
    const journal = entries[index] as JournalEntry;
    const isLast = index === entries.length - 1;
    const end = expected.get(journal.generation);
    const quarantineRest = (reason: 'corruptJournal' | 'sequenceGap', detail: string): void => {
      for (const later of entries.slice(index)) {
        if (!later.exists) continue;
        setAside.push({
          path: later.path,
          reason,
          detail: later === journal ? detail : `${detail}; a later journal was set aside with it`,
        });
      }
      run.rewrite = true;
      append = undefined;
    };
    if (!journal.exists) {
      const missing = `journal ${journal.path} is missing (it held records through ${end?.sequence ?? 0})`;
      if ((end?.sequence ?? 0) > run.sequence) {
        run.corruptions++;
        run.noteLoss('journalMissing', missing);
        quarantineRest('sequenceGap', missing);
        break;
      }
      run.repairs.push({ cause: 'journalMissing', file: journal.path, detail: `${missing}; it held no record the state lacks` });
      continue;
    }
    const bytes = await fs.readFile(journal.path).catch((error: unknown) => {
      throw toStorageError(error, `read the journal ${journal.path}`);
    });
    const scan = scanJournal(bytes);
    if (typeof scan.header === 'object' && scan.header.manifested) manifested = true;
    const damage = end ? checkAcknowledgedPrefix(bytes, end, journal.path) : undefined;
    if (scan.header === 'torn' && isLast && !damage) {
      // Created by a crash before its header was on disk: no record was ever acknowledged in it.
      await removeTornHeader(run, journal.path, bytes);
      continue;
    }
    if (scan.header === 'torn' || scan.header === 'corrupt') {
      const detail = damage?.detail ?? `the header of journal ${journal.path} is damaged`;
      run.noteLoss(damage?.cause ?? 'journalDamaged', detail);
      quarantineRest('corruptJournal', detail);
      break;
    }
    const header = scan.header;
    if (header.encrypted && !cipher) {
      throw new StorageError(
        'missingKey',
        `The store ${name} is encrypted and its key is not available. Enter the recovery key to open it.`,
      );
    }
    if (header.encrypted && cipher && cipher.keyFingerprint !== header.keyFingerprint) {
      throw new StorageError(
        'wrongKey',
        `The store ${name} was encrypted with another key (fingerprint ${header.keyFingerprint}). Enter its recovery key to open it.`,
      );
    }
    let broken: string | undefined;
    // Every frame of the acknowledged prefix verifies, yet the prefix is not the one acknowledged:
    // these are another journal's records (a file copied over ours), none of them is replayed.
    const foreign =
      (damage?.cause === 'journalDamaged' && end !== undefined && (!scan.damage || scan.damage.offset >= end.bytes)) ||
      (damage?.cause === 'journalCut' && end?.head !== undefined && !headMatches(bytes, end.head));
    for (const record of foreign ? [] : scan.records) {
      if (record.sequence <= run.sequence) continue;
      if (record.sequence !== run.sequence + 1) {
        broken = `journal ${journal.path} continues at record ${record.sequence}, but the state ends at ${run.sequence}`;
        break;
      }
      let records: R[];
      try {
        const plain =
          header.encrypted && cipher
            ? cipher.open(record.payload, recordAssociatedData(header.generation, record.sequence))
            : record.payload;
        records = decodeBatch(plain).map((part) => codec.decodeRecord(part));
      } catch (error) {
        if (header.encrypted) {
          throw StorageError.is(error)
            ? error
            : new StorageError('decryptFailed', `A record of ${name} does not decrypt with this key.`, { cause: error });
        }
        broken = `record ${record.sequence} of journal ${journal.path} cannot be decoded (${(error as Error).message})`;
        break;
      }
      for (const item of records) run.state = codec.apply(run.state, item);
      run.sequence = record.sequence;
      replayed++;
    }
    if (damage) {
      // What verified before the damage is applied; the file and every later one are set aside.
      run.noteLoss(damage.cause, damage.detail);
      quarantineRest('corruptJournal', damage.detail);
      break;
    }
    if (broken) {
      const gap = broken.includes('continues at');
      run.noteLoss(gap ? 'sequenceGap' : 'journalDamaged', broken);
      quarantineRest(gap ? 'sequenceGap' : 'corruptJournal', broken);
      break;
    }
    // A torn tail in a journal that is not the last is still only a torn tail when every later
    // journal holds no record: compaction creates generation G+1 before the appends already queued
    // for G are written, so a kill during one of those writes leaves exactly this.
    const tornBeforeEmpty = scan.damage?.kind === 'tail' && !isLast && (await journalsHoldNoRecord(entries.slice(index + 1)));
    // Past the acknowledged end after a crash, every byte is from the batch whose sync never
    // returned, whatever its shape: a power cut can put its pages on disk in any order, leaving
    // valid frames behind a torn one. Nothing acknowledged follows an unacknowledged byte.
    const tornLastBatch = isLast && end !== undefined && manifest?.clean !== true && (scan.damage?.offset ?? 0) >= end.bytes;
    if (scan.damage && !tornLastBatch && (scan.damage.kind === 'middle' || (!isLast && !tornBeforeEmpty))) {
      const detail = `journal ${journal.path} is damaged at byte ${scan.damage.offset} with ${scan.damage.bytes} bytes after it`;
      run.noteLoss('journalDamaged', detail);
      quarantineRest('corruptJournal', detail);
      break;
    }
    if (scan.damage) await cutTornTail(run, journal.path, bytes, scan, manifest?.clean === true && end !== undefined);
    if (append) ends.push(endOf(append));
    append = {
      path: journal.path,
      generation: journal.generation,
      validLength: scan.validLength,
      records: scan.records.length,
      encrypted: header.encrypted,
      fingerprint: header.keyFingerprint,
      crc: crc32(bytes.subarray(0, scan.validLength)),
      sequence: run.sequence,
      head: end?.head ?? headOf(bytes, header.byteLength, scan.records[0]),
    };
  }
  return { append, ends, setAside, replayed, manifested };
}

/** Removes the last journal, whose header a crash cut short: a copy of its bytes goes to quarantine/ first. */
async function removeTornHeader<S, R>(run: RecoveryRun<S, R>, path: string, bytes: Buffer): Promise<void> {
  const { context } = run;
  const quarantinePath = bytes.length > 0 ? await quarantineBytes(path, bytes, context.directory, context.clock.now(), 'torn') : undefined;
  await fs.rm(path, { force: true });
  if (bytes.length === 0) return;
  context.logger.warn(`${run.tag} removed ${path}, whose header was cut short (${bytes.length} bytes); a copy is in ${quarantinePath}`);
  context.emit({
    type: 'journalTailCut',
    store: context.name,
    file: path,
    bytesCut: bytes.length,
    droppedCompleteRecord: false,
    quarantinePath,
  });
}

/**
 * Cuts a torn tail back to the last good record, with a copy of the cut bytes in quarantine/ first.
 * Past the end of a cleanly closed journal (`cleanEnd`) it is no crash's write: a repair to report.
 */
async function cutTornTail<S, R>(
  run: RecoveryRun<S, R>,
  path: string,
  bytes: Buffer,
  scan: { readonly validLength: number; readonly damage?: JournalDamage },
  cleanEnd: boolean,
): Promise<void> {
  const { context } = run;
  const damage = scan.damage;
  if (!damage) return;
  const quarantinePath = await quarantineBytes(path, bytes.subarray(scan.validLength), context.directory, context.clock.now(), 'tail');
  const handle = await fs.open(path, 'r+');
  try {
    await handle.truncate(scan.validLength);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  context.logger.warn(
    `${run.tag} cut ${damage.bytes} bytes of torn tail from ${path}${damage.droppedCompleteRecord ? ' (a complete record failed its checksum)' : ''}; a copy is in ${quarantinePath}`,
  );
  context.audit?.record({
    store: context.name,
    action: 'cutTornTail',
    detail: { file: path, bytes: damage.bytes, droppedCompleteRecord: damage.droppedCompleteRecord, quarantinePath },
  });
  context.emit({
    type: 'journalTailCut',
    store: context.name,
    file: path,
    bytesCut: damage.bytes,
    droppedCompleteRecord: damage.droppedCompleteRecord,
    quarantinePath,
  });
  if (cleanEnd) {
    // Past the end of a cleanly closed journal: not a crash's write, but every acknowledged byte verified.
    run.repairs.push({
      cause: 'journalDamaged',
      file: path,
      detail: `${damage.bytes} bytes followed the end of cleanly closed journal ${path}`,
    });
  }
}
