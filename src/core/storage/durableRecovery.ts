import { fsp as fs } from './storageFs';
import { join } from 'node:path';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { AuditSink } from './auditLog';
import type { RecordCipher } from './cipher';
import type { DurableCodec, StoreLayout } from './durableLayout';
import { journalPath, listJournals, snapshotPath } from './durableLayout';
import { StorageError } from './errors';
import { crc32 } from 'node:zlib';
import type { JournalEnd, JournalFile, JournalHead } from './journal';
import { createJournalFile, openJournalFile } from './journal';
import { decodeBatch, recordAssociatedData, scanJournal } from './journalFormat';
import { ackMarkPath, decodeAckMark } from './ackMark';
import { mkdirDurable } from './atomicFile';
import { decodeSnapshot, writeVerifiedSnapshot } from './snapshot';
import { quarantineBytes, quarantineFile, readFileIfExists, toStorageError } from './storageIo';
import type { DataLossCause, StorageEvent } from './storeEvents';
import type { SnapshotRef, StoreManifest } from './storeManifest';
import { acknowledgedSequence, manifestPath, previousSnapshotPath, readManifest, snapshotMatches } from './storeManifest';
import {
  checkAcknowledgedPrefix,
  headMatches,
  headOf,
  journalsHoldNoRecord,
  reportLoss,
  snapshotIsOurs,
  usableAckMark,
} from './recoveryChecks';

export type { DurableCodec, StoreLayout } from './durableLayout';
export { journalPath, listJournals, snapshotPath } from './durableLayout';

export interface RecoveryContext<S, R> extends StoreLayout {
  readonly codec: DurableCodec<S, R>;
  readonly cipher: RecordCipher | undefined;
  readonly compress: boolean;
  readonly logger: Logger;
  readonly audit: AuditSink | undefined;
  readonly loadFallback: (() => Promise<Uint8Array | undefined>) | undefined;
  readonly emit: (event: StorageEvent) => void;
  readonly clock: Clock;
}

export interface Recovered<S> {
  readonly state: S;
  readonly sequence: number;
  readonly file: JournalFile;
  readonly snapshotBytes: number;
  readonly corruptions: number;
  /** More than one journal generation is live: a compaction was cut short and should run again. */
  readonly compactionDue: boolean;
  /** What the next manifest says (see StoreManifest): the opened snapshot, the generation kept to repair from, journals kept. */
  readonly snapshot: SnapshotRef | undefined;
  readonly previous: StoreManifest['previous'];
  /** Acknowledged ends of the journals kept on disk other than the one appended to. */
  readonly sealed: readonly JournalEnd[];
  readonly createdAt: number;
  readonly advances: StoreManifest['advances'];
}

/**
 * Intact but unreadable by this code or this key: the caller must act (update, give the key, look at
 * a failed migration), and the file must stay where it is. A codec's decodeSnapshot throws
 * 'unsupportedVersion' or 'migrationFailed' for a payload it recognises but cannot bring up to date.
 */
function isKeyOrVersionProblem(error: unknown): boolean {
  return (
    StorageError.is(error, 'missingKey') ||
    StorageError.is(error, 'wrongKey') ||
    StorageError.is(error, 'decryptFailed') ||
    StorageError.is(error, 'unsupportedVersion') ||
    StorageError.is(error, 'migrationFailed')
  );
}

/** A journal generation to open: on disk, or named by the manifest and gone. */
interface JournalEntry {
  readonly generation: number;
  readonly path: string;
  readonly exists: boolean;
}

/**
 * Opens a store's files: the manifest (where acknowledged data ends), the snapshot (else the
 * previous generation, else the newest good backup), then every journal generation it does not
 * cover, in order, checking each against the manifest and that sequence numbers run on without a
 * gap. A torn tail past the acknowledged end after a crash is copied to quarantine/ and cut; any
 * other damage is quarantined, reported with what it took (`dataLost`), and the verified state is
 * written as a fresh snapshot at once, so the next open starts from good files.
 */
export async function recoverStore<S, R>(context: RecoveryContext<S, R>): Promise<Recovered<S>> {
  const { codec, cipher, logger, name } = context;
  const tag = `[storage:${name}]`;
  await mkdirDurable(context.directory).catch((error: unknown) => {
    throw toStorageError(error, `create the folder ${context.directory}`);
  });
  const leftover = new RegExp(`^\\.${name.replace(/[.]/g, '\\.')}\\.(snapshot|snapshot\\.previous|manifest)\\.[0-9a-z]+\\.tmp$`);
  for (const entry of await fs.readdir(context.directory)) {
    // Left by an atomic write that crashed before its rename: never part of the state.
    if (leftover.test(entry)) await fs.rm(join(context.directory, entry), { force: true });
  }
  const read = await readManifest(context);
  const manifest = read.kind === 'ok' ? read.manifest : undefined;
  const mark = usableAckMark(manifest, decodeAckMark(await readFileIfExists(ackMarkPath(context))));
  const journals = await listJournals(context);
  let state = codec.empty();
  let sequence = 0;
  let startGeneration = 1;
  let snapshotBytes = 0;
  let corruptions = 0;
  let rewrite = false;
  let fallbackUsed: 'backup' | 'none' | undefined;
  let base: SnapshotRef | undefined;
  let previous = manifest?.previous;
  let loss: { cause: DataLossCause; detail: string } | undefined;
  const repairs: { cause: DataLossCause; file: string; detail: string }[] = [];
  const noteLoss = (cause: DataLossCause, detail: string): void => {
    loss ??= { cause, detail };
    logger.error(`${tag} ${detail}`);
  };

  const quarantine = async (
    path: string,
    reason: 'corruptSnapshot' | 'corruptJournal' | 'sequenceGap' | 'corruptManifest',
    detail: string,
  ) => {
    const quarantinePath = await quarantineFile(path, context.directory, context.clock.now());
    corruptions++;
    logger.error(`${tag} ${detail}: moved ${path} to ${quarantinePath}`);
    context.audit?.record({ store: name, action: 'quarantine', detail: { file: path, quarantinePath, reason, detail } });
    context.emit({ type: 'quarantined', store: name, file: path, quarantinePath, reason, detail });
  };
  if (read.kind === 'damaged') {
    const detail = `the manifest of ${name} is damaged (${read.detail}), so where its journals ended cannot be checked`;
    await quarantine(manifestPath(context), 'corruptManifest', detail);
    noteLoss('manifestDamaged', detail);
  }
  const decodeFile = async (bytes: Buffer): Promise<{ state: S; header: SnapshotRef }> => {
    const decoded = await decodeSnapshot(bytes, cipher);
    return { state: await codec.decodeSnapshot(decoded.payload), header: decoded.header };
  };
  const useFallback = async (): Promise<void> => {
    state = codec.empty();
    sequence = 0;
    startGeneration = 0; // replay every journal; records the backup already holds are skipped by sequence
    previous = undefined;
    rewrite = true;
    const bytes = await context.loadFallback?.().catch((error: unknown) => {
      logger.error(`${tag} the backup could not be loaded: ${(error as Error).message}`);
      return undefined;
    });
    fallbackUsed = 'none';
    if (!bytes) return;
    try {
      const opened = await decodeFile(Buffer.from(bytes));
      state = opened.state;
      sequence = opened.header.sequence;
      fallbackUsed = 'backup';
    } catch (error) {
      if (isKeyOrVersionProblem(error)) throw error;
      logger.error(`${tag} the backup is damaged too: ${(error as Error).message}`);
      state = codec.empty();
    }
  };
  /** Opens the generation kept before the newest snapshot: its file, or the empty state it began from. */
  const openPrevious = async (): Promise<'file' | 'empty' | undefined> => {
    // Usable only when every journal it needs is there and its acknowledged bytes verify;
    // otherwise the newest backup is the better copy.
    if (manifest?.previous) {
      const upTo = manifest.snapshot?.generation ?? Number.MAX_SAFE_INTEGER;
      for (const end of manifest.journals) {
        if (end.generation < manifest.previous.generation || end.generation >= upTo) continue;
        const bytes = await readFileIfExists(journalPath(context, end.generation));
        if (!bytes || checkAcknowledgedPrefix(bytes, end, '')) return undefined;
      }
    }
    const path = previousSnapshotPath(context);
    const bytes = await readFileIfExists(path);
    if (bytes) {
      try {
        const previousCrc = crc32(bytes);
        const opened = await decodeFile(bytes);
        if (!snapshotMatches(manifest?.previous, opened.header.generation, previousCrc)) {
          codec.dispose?.(opened.state);
          throw new StorageError('corruptSnapshot', 'it is not the file its manifest names (its checksum differs)');
        }
        // Only the generation the manifest names (any, without one): a stale copy would be
        // replayed onto journals that do not follow it.
        const generation = opened.header.generation;
        if (!manifest || manifest.previous?.generation === generation || manifest.snapshot?.generation === generation) {
          state = opened.state;
          sequence = opened.header.sequence;
          startGeneration = generation;
          snapshotBytes = bytes.length;
          base = { generation, sequence, crc: previousCrc };
          return 'file';
        }
        codec.dispose?.(opened.state);
      } catch (error) {
        if (isKeyOrVersionProblem(error)) throw error;
        await quarantine(path, 'corruptSnapshot', `the previous snapshot of ${name} is damaged too (${(error as Error).message})`);
      }
    } else if (manifest?.previous && !manifest.previous.hasFile) {
      startGeneration = manifest.previous.generation;
      sequence = manifest.previous.sequence;
      return 'empty';
    }
    return undefined;
  };

  let problem: { cause: 'snapshotDamaged' | 'snapshotMissing'; detail: string } | undefined;
  let fallbackFor: { cause: 'snapshotDamaged' | 'snapshotMissing'; detail: string } | undefined;
  const current = await readFileIfExists(snapshotPath(context));
  if (current) {
    try {
      // Before decoding: a codec may take the bytes over (sql.js opens the image in place).
      const currentCrc = crc32(current);
      const opened = await decodeFile(current);
      if (!snapshotIsOurs(manifest, opened.header, currentCrc, journals)) {
        codec.dispose?.(opened.state);
        throw new StorageError(
          'corruptSnapshot',
          'it is not the file its manifest names (its checksum differs: damaged, or another store’s)',
        );
      }
      state = opened.state;
      sequence = opened.header.sequence;
      startGeneration = opened.header.generation;
      snapshotBytes = current.length;
      base = { generation: startGeneration, sequence, crc: currentCrc };
    } catch (error) {
      if (isKeyOrVersionProblem(error)) throw error;
      const detail = `the snapshot of ${name} is damaged (${(error as Error).message})`;
      await quarantine(snapshotPath(context), 'corruptSnapshot', detail);
      problem = { cause: 'snapshotDamaged', detail };
    }
  } else if (manifest?.snapshot !== undefined || (journals[0]?.generation ?? 1) > 1) {
    // Generations above 1 exist only after a compaction wrote a snapshot: it has gone missing.
    problem = { cause: 'snapshotMissing', detail: `the snapshot of ${name} is missing` };
  }
  if (problem) {
    const opened = await openPrevious();
    if (opened === 'file' && !current && manifest?.snapshot?.generation === startGeneration) {
      // A compaction moved the snapshot aside and stopped before writing the next: nothing is wrong.
      await fs.rename(previousSnapshotPath(context), snapshotPath(context));
      previous = undefined;
    } else if (opened) {
      rewrite = true;
      corruptions += problem.cause === 'snapshotMissing' ? 1 : 0;
      repairs.push({
        cause: problem.cause,
        file: snapshotPath(context),
        detail: `${problem.detail}; it was rebuilt from the previous generation and the journals after it`,
      });
    } else {
      if (problem.cause === 'snapshotMissing') corruptions++;
      logger.error(`${tag} ${problem.detail}`);
      fallbackFor = problem;
      await useFallback();
    }
  }

  const expected = new Map(
    (manifest?.journals ?? []).filter((end) => end.generation >= startGeneration).map((end) => [end.generation, end]),
  );
  // The ack mark names the end more exactly than the manifest after a crash of this process.
  if (mark && mark.generation >= startGeneration && mark.sequence > (expected.get(mark.generation)?.sequence ?? -1)) {
    expected.set(mark.generation, mark);
  }
  // The generation kept to repair from stays, with its journals, until a newer snapshot verifies.
  const keepFrom = previous && previous.generation < startGeneration ? previous.generation : startGeneration;
  if (keepFrom === startGeneration) previous = undefined;
  for (const journal of journals) if (journal.generation < keepFrom) await fs.rm(journal.path, { force: true });
  const kept = (manifest?.journals ?? []).filter(
    (end) =>
      end.generation >= keepFrom && end.generation < startGeneration && journals.some((journal) => journal.generation === end.generation),
  );
  const entries: JournalEntry[] = journals
    .filter((journal) => journal.generation >= startGeneration)
    .map((journal) => ({ ...journal, exists: true }));
  for (const end of expected.values()) {
    if (!entries.some((entry) => entry.generation === end.generation)) {
      entries.push({ generation: end.generation, path: journalPath(context, end.generation), exists: false });
    }
  }
  entries.sort((a, b) => a.generation - b.generation);
  const liveOnDisk = entries.filter((entry) => entry.exists).length;

  let replayed = 0;
  let manifested = false;
  const ends: JournalEnd[] = [];
  let append:
    | {
        path: string;
        generation: number;
        validLength: number;
        records: number;
        encrypted: boolean;
        fingerprint: string;
        crc: number;
        /** The last record in it (or before it). */
        sequence: number;
        head: JournalHead | undefined;
      }
    | undefined;
  let maxGeneration = Math.max(startGeneration, journals.at(-1)?.generation ?? 0, entries.at(-1)?.generation ?? 0);
  // Journals to quarantine once the verified state is durable in a fresh snapshot: moved before
  // it, a power cut in between would lose the acknowledged records of their good prefix (found by
  // the power-loss campaign, docs/power-loss-testing.md).
  const setAside: { path: string; reason: 'corruptJournal' | 'sequenceGap'; detail: string }[] = [];
  for (let index = 0; index < entries.length; index++) {
    const journal = entries[index] as JournalEntry;
    const isLast = index === entries.length - 1;
    const end = expected.get(journal.generation);
    const quarantineRest = async (reason: 'corruptJournal' | 'sequenceGap', detail: string): Promise<void> => {
      for (const later of entries.slice(index)) {
        if (!later.exists) continue;
        setAside.push({
          path: later.path,
          reason,
          detail: later === journal ? detail : `${detail}; a later journal was set aside with it`,
        });
      }
      rewrite = true;
      append = undefined;
    };
    if (!journal.exists) {
      const missing = `journal ${journal.path} is missing (it held records through ${end?.sequence ?? 0})`;
      if ((end?.sequence ?? 0) > sequence) {
        corruptions++;
        noteLoss('journalMissing', missing);
        await quarantineRest('sequenceGap', missing);
        break;
      }
      repairs.push({ cause: 'journalMissing', file: journal.path, detail: `${missing}; it held no record the state lacks` });
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
      const quarantinePath =
        bytes.length > 0 ? await quarantineBytes(journal.path, bytes, context.directory, context.clock.now(), 'torn') : undefined;
      await fs.rm(journal.path, { force: true });
      if (bytes.length > 0) {
        logger.warn(`${tag} removed ${journal.path}, whose header was cut short (${bytes.length} bytes); a copy is in ${quarantinePath}`);
        context.emit({
          type: 'journalTailCut',
          store: name,
          file: journal.path,
          bytesCut: bytes.length,
          droppedCompleteRecord: false,
          quarantinePath,
        });
      }
      continue;
    }
    if (scan.header === 'torn' || scan.header === 'corrupt') {
      const detail = damage?.detail ?? `the header of journal ${journal.path} is damaged`;
      noteLoss(damage?.cause ?? 'journalDamaged', detail);
      await quarantineRest('corruptJournal', detail);
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
      if (record.sequence <= sequence) continue;
      if (record.sequence !== sequence + 1) {
        broken = `journal ${journal.path} continues at record ${record.sequence}, but the state ends at ${sequence}`;
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
      for (const item of records) state = codec.apply(state, item);
      sequence = record.sequence;
      replayed++;
    }
    if (damage) {
      // What verified before the damage is applied; the file and every later one are set aside.
      noteLoss(damage.cause, damage.detail);
      await quarantineRest('corruptJournal', damage.detail);
      break;
    }
    if (broken) {
      const gap = broken.includes('continues at');
      noteLoss(gap ? 'sequenceGap' : 'journalDamaged', broken);
      await quarantineRest(gap ? 'sequenceGap' : 'corruptJournal', broken);
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
      noteLoss('journalDamaged', detail);
      await quarantineRest('corruptJournal', detail);
      break;
    }
    if (scan.damage) {
      const cleanEnd = manifest?.clean === true && end !== undefined;
      const quarantinePath = await quarantineBytes(
        journal.path,
        bytes.subarray(scan.validLength),
        context.directory,
        context.clock.now(),
        'tail',
      );
      const handle = await fs.open(journal.path, 'r+');
      try {
        await handle.truncate(scan.validLength);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      logger.warn(
        `${tag} cut ${scan.damage.bytes} bytes of torn tail from ${journal.path}${scan.damage.droppedCompleteRecord ? ' (a complete record failed its checksum)' : ''}; a copy is in ${quarantinePath}`,
      );
      context.audit?.record({
        store: name,
        action: 'cutTornTail',
        detail: { file: journal.path, bytes: scan.damage.bytes, droppedCompleteRecord: scan.damage.droppedCompleteRecord, quarantinePath },
      });
      context.emit({
        type: 'journalTailCut',
        store: name,
        file: journal.path,
        bytesCut: scan.damage.bytes,
        droppedCompleteRecord: scan.damage.droppedCompleteRecord,
        quarantinePath,
      });
      if (cleanEnd) {
        // Past the end of a cleanly closed journal: not a crash's write, but every acknowledged byte verified.
        repairs.push({
          cause: 'journalDamaged',
          file: journal.path,
          detail: `${scan.damage.bytes} bytes followed the end of cleanly closed journal ${journal.path}`,
        });
      }
    }
    if (append) {
      ends.push({
        generation: append.generation,
        sequence: append.sequence,
        bytes: append.validLength,
        crc: append.crc,
        ...(append.head ? { head: append.head } : {}),
      });
    }
    append = {
      path: journal.path,
      generation: journal.generation,
      validLength: scan.validLength,
      records: scan.records.length,
      encrypted: header.encrypted,
      fingerprint: header.keyFingerprint,
      crc: crc32(bytes.subarray(0, scan.validLength)),
      sequence,
      head: end?.head ?? headOf(bytes, header.byteLength, scan.records[0]),
    };
  }

  let rewritten: JournalFile | undefined;
  if (rewrite) {
    // Write what verifies as a fresh snapshot now, past every old generation, so the next open
    // does not depend on the files that were set aside.
    const generation = maxGeneration + 1;
    maxGeneration = generation;
    // Its journal first, as a compaction does: a snapshot of a generation the manifest does not
    // name yet is taken for ours only when its journal is there (snapshotIsOurs), and a power cut
    // may come before the manifest names this one.
    rewritten = await createJournalFile(journalPath(context, generation), generation, cipher, { manifested: true });
    let written: { bytes: number; crc: number };
    try {
      written = await writeVerifiedSnapshot(snapshotPath(context), await codec.snapshot(state)(), {
        generation,
        sequence,
        cipher,
        compress: context.compress,
      });
    } catch (error) {
      await rewritten.handle.close().catch(() => undefined);
      throw error;
    }
    snapshotBytes = written.bytes;
    for (const entry of setAside) await quarantine(entry.path, entry.reason, entry.detail);
    for (const journal of await listJournals(context)) if (journal.generation < generation) await fs.rm(journal.path, { force: true });
    append = undefined;
    base = { generation, sequence, crc: written.crc };
    previous = undefined;
    ends.length = 0;
    kept.length = 0;
  }
  if (fallbackUsed === 'backup') {
    context.emit({ type: 'recoveredFromBackup', store: name, sequence, journalRecordsReplayed: replayed });
  } else if (fallbackUsed === 'none') {
    const detail = `no good snapshot or backup of ${name} was found; it opened with the ${replayed} journal records that verify`;
    logger.error(`${tag} ${detail}`);
    context.emit({ type: 'stateLost', store: name, detail });
  }
  if (read.kind === 'missing' && manifested) {
    // Its journals say this store keeps a manifest. (A store written before manifests has none and
    // no flag: its first open cannot tell a journal cut after the fact from a torn write.)
    noteLoss('manifestMissing', `the manifest of ${name} is missing, so where its journals ended cannot be checked`);
  }
  const acknowledged = manifest || mark ? Math.max(manifest ? acknowledgedSequence(manifest) : 0, mark?.sequence ?? 0) : undefined;
  if (fallbackFor && (loss !== undefined || acknowledged === undefined || sequence < acknowledged)) {
    // A backup (or nothing) and the journals after it reach the acknowledged end only when no gap
    // stopped the replay; without a manifest nothing says where that end was. The snapshot is the cause.
    const reached = `the ${fallbackUsed === 'backup' ? 'backup' : 'empty state'} and the journals after it reach record ${sequence}`;
    const detail = `${fallbackFor.detail}; ${reached}`;
    logger.error(`${tag} ${detail}`);
    loss = { cause: fallbackFor.cause, detail: loss ? `${detail}; ${loss.detail}` : detail };
  }
  if (!loss && acknowledged !== undefined && sequence < acknowledged) {
    noteLoss('journalCut', `the journals of ${name} end at record ${sequence}, but its manifest says ${acknowledged} were acknowledged`);
  }
  reportLoss(context, { loss, repairs, manifest, acknowledged, sequence });
  const matches = append && append.encrypted === (cipher !== undefined) && (!cipher || append.fingerprint === cipher.keyFingerprint);
  if (append && !matches) {
    ends.push({
      generation: append.generation,
      sequence: append.sequence,
      bytes: append.validLength,
      crc: append.crc,
      ...(append.head ? { head: append.head } : {}),
    });
  }
  const nextGeneration = Math.max(maxGeneration + (append ? 1 : 0), startGeneration, 1);
  const file =
    rewritten ??
    (append && matches
      ? await openJournalFile(append.path, append.generation, cipher, append.validLength, append.records, append.crc, append.head)
      : await createJournalFile(journalPath(context, nextGeneration), nextGeneration, cipher, { manifested: true }));
  const compactionDue = !rewrite && liveOnDisk > 1;
  return {
    state,
    sequence,
    file,
    snapshotBytes,
    corruptions,
    compactionDue,
    snapshot: base,
    previous,
    sealed: [...kept, ...ends],
    createdAt: manifest?.createdAt ?? context.clock.now(),
    advances: manifest?.advances ?? [],
  };
}
