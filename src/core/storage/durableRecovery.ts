import { fsp as fs } from './storageFs';
import { join } from 'node:path';
import { journalPath, listJournals, snapshotPath } from './durableLayout';
import type { JournalEnd, JournalFile } from './journal';
import { createJournalFile, openJournalFile } from './journal';
import type { JournalEntry, Replayed } from './journalReplay';
import { replayJournals } from './journalReplay';
import { ackMarkPath, decodeAckMark } from './ackMark';
import { mkdirDurable } from './atomicFile';
import { writeVerifiedSnapshot } from './snapshot';
import { readFileIfExists, toStorageError } from './storageIo';
import type { SnapshotRef, StoreManifest } from './storeManifest';
import { acknowledgedSequence, manifestPath, readManifest } from './storeManifest';
import { reportLoss, usableAckMark } from './recoveryChecks';
import type { RecoveryContext } from './recoveryRun';
import { endOf, RecoveryRun } from './recoveryRun';
import { chooseSnapshot } from './recoverySnapshot';

export type { DurableCodec, StoreLayout } from './durableLayout';
export { journalPath, listJournals, snapshotPath } from './durableLayout';

export type { RecoveryContext } from './recoveryRun';

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
 * Opens a store's files: the manifest (where acknowledged data ends), the snapshot (else the
 * previous generation, else the newest good backup: recoverySnapshot.ts), then every journal
 * generation it does not cover, in order (journalReplay.ts). A torn tail past the acknowledged end
 * after a crash is copied to quarantine/ and cut; any other damage is quarantined, reported with
 * what it took (`dataLost`), and the verified state is written as a fresh snapshot at once, so the
 * next open starts from good files.
 */
export async function recoverStore<S, R>(context: RecoveryContext<S, R>): Promise<Recovered<S>> {
  const { cipher, logger, name } = context;
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
  const run = new RecoveryRun(context, manifest);
  const tag = run.tag;
  if (read.kind === 'damaged') {
    const detail = `the manifest of ${name} is damaged (${read.detail}), so where its journals ended cannot be checked`;
    await run.quarantine(manifestPath(context), 'corruptManifest', detail);
    run.noteLoss('manifestDamaged', detail);
  }
  const { fallbackUsed, fallbackFor } = await chooseSnapshot(run, journals);
  const startGeneration = run.startGeneration;

  const expected = new Map(
    (manifest?.journals ?? []).filter((end) => end.generation >= startGeneration).map((end) => [end.generation, end]),
  );
  // The ack mark names the end more exactly than the manifest after a crash of this process.
  if (mark && mark.generation >= startGeneration && mark.sequence > (expected.get(mark.generation)?.sequence ?? -1)) {
    expected.set(mark.generation, mark);
  }
  // The generation kept to repair from stays, with its journals, until a newer snapshot verifies.
  const keepFrom = run.previous && run.previous.generation < startGeneration ? run.previous.generation : startGeneration;
  if (keepFrom === startGeneration) run.previous = undefined;
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
  let maxGeneration = Math.max(startGeneration, journals.at(-1)?.generation ?? 0, entries.at(-1)?.generation ?? 0);
  const replay = await replayJournals(run, entries, expected);
  let { append } = replay;
  const { ends, replayed } = replay;

  let rewritten: JournalFile | undefined;
  if (run.rewrite) {
    // Write what verifies as a fresh snapshot now, past every old generation, so the next open
    // does not depend on the files that were set aside.
    const generation = maxGeneration + 1;
    maxGeneration = generation;
    rewritten = await rewriteSnapshot(run, generation, replay.setAside);
    append = undefined;
    ends.length = 0;
    kept.length = 0;
  }
  if (fallbackUsed === 'backup') {
    context.emit({ type: 'recoveredFromBackup', store: name, sequence: run.sequence, journalRecordsReplayed: replayed });
  } else if (fallbackUsed === 'none') {
    const detail = `no good snapshot or backup of ${name} was found; it opened with the ${replayed} journal records that verify`;
    logger.error(`${tag} ${detail}`);
    context.emit({ type: 'stateLost', store: name, detail });
  }
  if (read.kind === 'missing' && replay.manifested) {
    // Its journals say this store keeps a manifest. (A store written before manifests has none and
    // no flag: its first open cannot tell a journal cut after the fact from a torn write.)
    run.noteLoss('manifestMissing', `the manifest of ${name} is missing, so where its journals ended cannot be checked`);
  }
  const sequence = run.sequence;
  const acknowledged = manifest || mark ? Math.max(manifest ? acknowledgedSequence(manifest) : 0, mark?.sequence ?? 0) : undefined;
  if (fallbackFor && (run.loss !== undefined || acknowledged === undefined || sequence < acknowledged)) {
    // A backup (or nothing) and the journals after it reach the acknowledged end only when no gap
    // stopped the replay; without a manifest nothing says where that end was. The snapshot is the cause.
    const reached = `the ${fallbackUsed === 'backup' ? 'backup' : 'empty state'} and the journals after it reach record ${sequence}`;
    const detail = `${fallbackFor.detail}; ${reached}`;
    logger.error(`${tag} ${detail}`);
    run.loss = { cause: fallbackFor.cause, detail: run.loss ? `${detail}; ${run.loss.detail}` : detail };
  }
  if (!run.loss && acknowledged !== undefined && sequence < acknowledged) {
    run.noteLoss(
      'journalCut',
      `the journals of ${name} end at record ${sequence}, but its manifest says ${acknowledged} were acknowledged`,
    );
  }
  reportLoss(context, { loss: run.loss, repairs: run.repairs, manifest, acknowledged, sequence });
  const matches = append && append.encrypted === (cipher !== undefined) && (!cipher || append.fingerprint === cipher.keyFingerprint);
  if (append && !matches) ends.push(endOf(append));
  const nextGeneration = Math.max(maxGeneration + (append ? 1 : 0), startGeneration, 1);
  const file =
    rewritten ??
    (append && matches
      ? await openJournalFile(append.path, append.generation, cipher, append.validLength, append.records, append.crc, append.head)
      : await createJournalFile(journalPath(context, nextGeneration), nextGeneration, cipher, { manifested: true }));
  return {
    state: run.state,
    sequence,
    file,
    snapshotBytes: run.snapshotBytes,
    corruptions: run.corruptions,
    compactionDue: !run.rewrite && liveOnDisk > 1,
    snapshot: run.base,
    previous: run.previous,
    sealed: [...kept, ...ends],
    createdAt: manifest?.createdAt ?? context.clock.now(),
    advances: manifest?.advances ?? [],
  };
}

/**
 * Writes the verified state as the snapshot of `generation`, then moves the journals set aside to
 * quarantine and removes the older ones: nothing is set aside before what verified is durable.
 */
async function rewriteSnapshot<S, R>(run: RecoveryRun<S, R>, generation: number, setAside: Replayed['setAside']): Promise<JournalFile> {
  const { context } = run;
  // Its journal first, as a compaction does: a snapshot of a generation the manifest does not
  // name yet is taken for ours only when its journal is there (snapshotIsOurs), and a power cut
  // may come before the manifest names this one.
  const rewritten = await createJournalFile(journalPath(context, generation), generation, context.cipher, { manifested: true });
  let written: { bytes: number; crc: number };
  try {
    written = await writeVerifiedSnapshot(snapshotPath(context), await context.codec.snapshot(run.state)(), {
      generation,
      sequence: run.sequence,
      cipher: context.cipher,
      compress: context.compress,
    });
  } catch (error) {
    await rewritten.handle.close().catch(() => undefined);
    throw error;
  }
  run.snapshotBytes = written.bytes;
  for (const entry of setAside) await run.quarantine(entry.path, entry.reason, entry.detail);
  for (const journal of await listJournals(context)) if (journal.generation < generation) await fs.rm(journal.path, { force: true });
  run.base = { generation, sequence: run.sequence, crc: written.crc };
  run.previous = undefined;
  return rewritten;
}
