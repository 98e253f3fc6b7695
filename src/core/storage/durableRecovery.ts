import { fsp as fs } from './storageFs';
import { mkdirDurable } from './atomicFile';
import { join } from 'node:path';
import type { Clock } from '../clock';
import type { Logger } from '../logger';
import type { AuditSink } from './auditLog';
import type { RecordCipher } from './cipher';
import { StorageError } from './errors';
import type { JournalFile } from './journal';
import { createJournalFile, openJournalFile } from './journal';
import { decodeBatch, recordAssociatedData, scanJournal } from './journalFormat';
import type { SnapshotPayload } from './snapshot';
import { decodeSnapshot, writeSnapshot } from './snapshot';
import { quarantineFile, readFileIfExists, toStorageError } from './storageIo';
import type { StorageEvent } from './storeEvents';

/**
 * How a store's state is turned into bytes and back. `apply` must not throw for a record that
 * `encodeRecord` produced: by the time it runs, the record is on disk.
 */
export interface DurableCodec<S, R> {
  empty(): S;
  /** Applies one record; may mutate `state` and return it. */
  apply(state: S, record: R): S;
  encodeRecord(record: R): Uint8Array;
  /** Throws on bytes it does not understand; the record is then treated as damage. */
  decodeRecord(bytes: Uint8Array): R;
  /**
   * Called synchronously at the moment a snapshot must describe: freeze what later `apply` calls
   * would change (cheaply, e.g. copy a Map of immutable values) and return the serialiser, which
   * may then take its time (chunked, or in a worker) while commits go on.
   */
  snapshot(state: S): () => Promise<SnapshotPayload>;
  /** Throws on a payload it does not understand; the snapshot is then treated as damage. */
  decodeSnapshot(payload: Uint8Array): S | Promise<S>;
  /** Frees a state the store no longer holds (replaced by a restore), for states that own resources such as a sql.js database. */
  dispose?(state: S): void;
}

export interface StoreLayout {
  readonly directory: string;
  readonly name: string;
}

export function snapshotPath(layout: StoreLayout): string {
  return join(layout.directory, `${layout.name}.snapshot`);
}

export function journalPath(layout: StoreLayout, generation: number): string {
  return join(layout.directory, `${layout.name}.${String(generation).padStart(8, '0')}.journal`);
}

/** Journal files of this store, oldest generation first. */
export async function listJournals(layout: StoreLayout): Promise<{ generation: number; path: string }[]> {
  const pattern = new RegExp(`^${layout.name.replace(/[.]/g, '\\.')}\\.(\\d{8,})\\.journal$`);
  const found: { generation: number; path: string }[] = [];
  for (const entry of await fs.readdir(layout.directory)) {
    const match = pattern.exec(entry);
    if (match) found.push({ generation: Number(match[1]), path: join(layout.directory, entry) });
  }
  return found.sort((a, b) => a.generation - b.generation);
}

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

/**
 * Opens a store's files: snapshot (or the newest good backup when it is damaged), then every
 * journal generation it does not cover, in order, checking that sequence numbers run on without a
 * gap. A torn tail of the last journal is cut; any other damage is quarantined and the verified
 * state is written as a fresh snapshot at once, so the next open starts from good files.
 */
export async function recoverStore<S, R>(context: RecoveryContext<S, R>): Promise<Recovered<S>> {
  const { codec, cipher, logger, name } = context;
  const tag = `[storage:${name}]`;
  await mkdirDurable(context.directory).catch((error: unknown) => {
    throw toStorageError(error, `create the folder ${context.directory}`);
  });
  for (const entry of await fs.readdir(context.directory)) {
    // Left by a snapshot write that crashed before its rename: never part of the state.
    if (entry.startsWith(`.${name}.snapshot.`) && entry.endsWith('.tmp')) await fs.rm(join(context.directory, entry), { force: true });
  }
  const journals = await listJournals(context);
  let state = codec.empty();
  let sequence = 0;
  let startGeneration = 1;
  let snapshotBytes = 0;
  let corruptions = 0;
  let lossy = false;
  let fallbackUsed: 'backup' | 'none' | undefined;

  const quarantine = async (path: string, reason: 'corruptSnapshot' | 'corruptJournal' | 'sequenceGap', detail: string): Promise<void> => {
    const quarantinePath = await quarantineFile(path, context.directory, context.clock.now());
    corruptions++;
    lossy = true;
    logger.error(`${tag} ${detail}: moved ${path} to ${quarantinePath}`);
    context.audit?.record({ store: name, action: 'quarantine', detail: { file: path, quarantinePath, reason, detail } });
    context.emit({ type: 'quarantined', store: name, file: path, quarantinePath, reason, detail });
  };
  const useFallback = async (): Promise<void> => {
    state = codec.empty();
    sequence = 0;
    startGeneration = 0; // replay every journal; records the backup already holds are skipped by sequence
    const bytes = await context.loadFallback?.().catch((error: unknown) => {
      logger.error(`${tag} the backup could not be loaded: ${(error as Error).message}`);
      return undefined;
    });
    fallbackUsed = 'none';
    if (!bytes) return;
    try {
      const decoded = await decodeSnapshot(bytes, cipher);
      state = await codec.decodeSnapshot(decoded.payload);
      sequence = decoded.header.sequence;
      fallbackUsed = 'backup';
    } catch (error) {
      if (isKeyOrVersionProblem(error)) throw error;
      logger.error(`${tag} the backup is damaged too: ${(error as Error).message}`);
      state = codec.empty();
    }
  };

  const snapshotFile = await readFileIfExists(snapshotPath(context));
  if (snapshotFile) {
    try {
      const decoded = await decodeSnapshot(snapshotFile, cipher);
      state = await codec.decodeSnapshot(decoded.payload);
      sequence = decoded.header.sequence;
      startGeneration = decoded.header.generation;
      snapshotBytes = snapshotFile.length;
    } catch (error) {
      if (isKeyOrVersionProblem(error)) throw error;
      await quarantine(snapshotPath(context), 'corruptSnapshot', `the snapshot of ${name} is damaged (${(error as Error).message})`);
      await useFallback();
    }
  } else if (journals.length > 0 && (journals[0]?.generation ?? 1) > 1) {
    // Generations above 1 exist only after a compaction wrote a snapshot: it has gone missing.
    corruptions++;
    lossy = true;
    logger.error(`${tag} the snapshot of ${name} is missing although compacted journals exist`);
    await useFallback();
  }

  // Journals to quarantine once the verified state is durable in a fresh snapshot: moved before
  // it, a power cut in between would lose the acknowledged records of their good prefix (found by
  // the power-loss campaign, docs/power-loss-testing.md).
  const setAside: { path: string; reason: 'corruptJournal' | 'sequenceGap'; detail: string }[] = [];
  let replayed = 0;
  let append:
    { path: string; generation: number; validLength: number; records: number; encrypted: boolean; fingerprint: string } | undefined;
  let maxGeneration = Math.max(startGeneration, journals.at(-1)?.generation ?? 0);
  const live = journals.filter((journal) => journal.generation >= startGeneration);
  // Journals below the snapshot's generation are covered by it.
  for (const journal of journals) if (journal.generation < startGeneration) await fs.rm(journal.path, { force: true });
  for (let index = 0; index < live.length; index++) {
    const journal = live[index] as { generation: number; path: string };
    const isLast = index === live.length - 1;
    const quarantineRest = async (reason: 'corruptJournal' | 'sequenceGap', detail: string): Promise<void> => {
      for (const later of live.slice(index)) {
        setAside.push({
          path: later.path,
          reason,
          detail: later === journal ? detail : `${detail}; a later journal was set aside with it`,
        });
      }
      lossy = true;
      append = undefined;
    };
    const bytes = await fs.readFile(journal.path).catch((error: unknown) => {
      throw toStorageError(error, `read the journal ${journal.path}`);
    });
    const scan = scanJournal(bytes);
    if (scan.header === 'torn' && isLast) {
      // Created by a crash before its header was on disk: no record was ever acknowledged in it.
      await fs.rm(journal.path, { force: true });
      if (bytes.length > 0) {
        logger.warn(`${tag} removed ${journal.path}, whose header was cut short (${bytes.length} bytes)`);
        context.emit({ type: 'journalTailCut', store: name, file: journal.path, bytesCut: bytes.length, droppedCompleteRecord: false });
      }
      continue;
    }
    if (scan.header === 'torn' || scan.header === 'corrupt') {
      await quarantineRest('corruptJournal', `the header of journal ${journal.path} is damaged`);
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
    for (const record of scan.records) {
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
    if (broken) {
      await quarantineRest(broken.includes('continues at') ? 'sequenceGap' : 'corruptJournal', broken);
      break;
    }
    // A torn tail in a journal that is not the last is still only a torn tail when every later
    // journal holds no record: compaction creates generation G+1 before the appends already queued
    // for G are written, so a kill during one of those writes leaves exactly this.
    const tornBeforeEmpty = scan.damage?.kind === 'tail' && !isLast && (await journalsHoldNoRecord(live.slice(index + 1)));
    if (scan.damage && (scan.damage.kind === 'middle' || (!isLast && !tornBeforeEmpty))) {
      await quarantineRest(
        'corruptJournal',
        `journal ${journal.path} is damaged at byte ${scan.damage.offset} with ${scan.damage.bytes} bytes after it`,
      );
      break;
    }
    if (scan.damage) {
      const handle = await fs.open(journal.path, 'r+');
      try {
        await handle.truncate(scan.validLength);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      logger.warn(
        `${tag} cut ${scan.damage.bytes} bytes of torn tail from ${journal.path}${scan.damage.droppedCompleteRecord ? ' (a complete record failed its checksum)' : ''}`,
      );
      context.audit?.record({
        store: name,
        action: 'cutTornTail',
        detail: { file: journal.path, bytes: scan.damage.bytes, droppedCompleteRecord: scan.damage.droppedCompleteRecord },
      });
      context.emit({
        type: 'journalTailCut',
        store: name,
        file: journal.path,
        bytesCut: scan.damage.bytes,
        droppedCompleteRecord: scan.damage.droppedCompleteRecord,
      });
    }
    append = {
      path: journal.path,
      generation: journal.generation,
      validLength: scan.validLength,
      records: scan.records.length,
      encrypted: header.encrypted,
      fingerprint: header.keyFingerprint,
    };
  }

  if (lossy) {
    // Write what verifies as a fresh snapshot now, past every old generation, so the next open
    // does not depend on the files that were set aside.
    const generation = maxGeneration + 1;
    maxGeneration = generation;
    snapshotBytes = await writeSnapshot(snapshotPath(context), await codec.snapshot(state)(), {
      generation,
      sequence,
      cipher,
      compress: context.compress,
    });
    for (const entry of setAside) await quarantine(entry.path, entry.reason, entry.detail);
    for (const journal of await listJournals(context)) if (journal.generation < generation) await fs.rm(journal.path, { force: true });
    append = undefined;
  }
  if (fallbackUsed === 'backup') {
    context.emit({ type: 'recoveredFromBackup', store: name, sequence, journalRecordsReplayed: replayed });
  } else if (fallbackUsed === 'none') {
    const detail = `no good snapshot or backup of ${name} was found; it opened with the ${replayed} journal records that verify`;
    logger.error(`${tag} ${detail}`);
    context.emit({ type: 'stateLost', store: name, detail });
  }
  const matches = append && append.encrypted === (cipher !== undefined) && (!cipher || append.fingerprint === cipher.keyFingerprint);
  const file =
    append && matches
      ? await openJournalFile(append.path, append.generation, cipher, append.validLength, append.records)
      : await createJournalFile(
          journalPath(context, Math.max(maxGeneration + (append ? 1 : 0), startGeneration, 1)),
          Math.max(maxGeneration + (append ? 1 : 0), startGeneration, 1),
          cipher,
        );
  const compactionDue = !lossy && live.length > 1;
  return { state, sequence, file, snapshotBytes, corruptions, compactionDue };
}

/** True when none of `journals` holds a record: each has a whole header and nothing after it, or (the last) a torn header. */
async function journalsHoldNoRecord(journals: readonly { readonly path: string }[]): Promise<boolean> {
  for (const [index, journal] of journals.entries()) {
    const bytes = await fs.readFile(journal.path).catch(() => undefined);
    if (bytes === undefined) return false;
    const scan = scanJournal(bytes);
    if (scan.header === 'torn' && index === journals.length - 1) continue;
    if (scan.header === 'torn' || scan.header === 'corrupt' || scan.records.length > 0 || scan.damage) return false;
  }
  return true;
}
