import type { RecordCipher } from './cipher';
import { journalPath, listJournals, snapshotPath } from './durableRecovery';
import type { StoreLayout } from './durableLayout';
import type { Journal } from './journal';
import { createJournalFile } from './journal';
import type { ManifestKeeper } from './manifestKeeper';
import type { SnapshotPayload } from './snapshot';
import { readSnapshotHeader, writeVerifiedSnapshot } from './snapshot';
import { fsp as fs } from './storageFs';

/** What writing a fresh generation of an open store needs from it (DurableStore.fresh). */
export interface FreshGenerationTarget {
  readonly layout: StoreLayout;
  readonly journal: Journal;
  /** What the new snapshot and journal are sealed with. */
  readonly cipher: RecordCipher | undefined;
  readonly compress: boolean;
  readonly manifest: ManifestKeeper;
  readonly wroteSnapshot: (bytes: number) => void;
}

/**
 * Writes `payload` as the snapshot of a fresh generation with no previous one (a restore, a
 * re-key): the new journal, then the snapshot, then the rotation (where `swap` changes the state),
 * the manifest, and the older journals go. Called with the store's commits held. Throws when the
 * old snapshot still stands; returns the error of a failure after the new snapshot was in place
 * (the caller goes forward, so memory matches what a reopen reads, and reports it).
 */
export async function writeFreshGeneration(target: FreshGenerationTarget, payload: SnapshotPayload, swap: () => void): Promise<unknown> {
  const { layout, journal, cipher } = target;
  const generation = journal.generation + 1;
  const sequence = journal.sequence;
  // The new journal first: once the snapshot names generation G+1, appends to G are ignored
  // by a reopen, so a journal that failed to appear after it lost every later commit (ioerr loop).
  // No previous generation is kept: after a restore its journals' sequence numbers run on from
  // the state before it, so replaying them onto it would mix the two; after a re-key it would
  // keep the data readable the old way.
  const next = await createJournalFile(journalPath(layout, generation), generation, cipher, { manifested: true });
  let afterSnapshot: unknown;
  let snapshotCrc: number | undefined;
  try {
    const written = await writeVerifiedSnapshot(snapshotPath(layout), payload, {
      generation,
      sequence,
      cipher,
      compress: target.compress,
    });
    target.wroteSnapshot(written.bytes);
    snapshotCrc = written.crc;
  } catch (error) {
    // A failure after the rename (the directory's sync) leaves the new snapshot in place.
    if ((await snapshotGenerationOnDisk(layout)) !== generation) {
      // The old snapshot stands; the empty journal goes (left behind, a reopen replays it as empty).
      await next.handle.close().catch(() => undefined);
      await fs.rm(next.path, { force: true }).catch(() => undefined);
      throw error;
    }
    afterSnapshot = error;
  }
  await journal.rotate(next, (sealed) => {
    swap();
    target.manifest.seal(sealed);
  });
  await target.manifest.install({ generation, sequence, crc: snapshotCrc }, undefined);
  await removeJournalsBelow(layout, generation);
  return afterSnapshot;
}

/** The generation the snapshot file names now, or undefined when it cannot be read. */
async function snapshotGenerationOnDisk(layout: StoreLayout): Promise<number | undefined> {
  try {
    return readSnapshotHeader(await fs.readFile(snapshotPath(layout))).generation;
  } catch {
    return undefined;
  }
}

/** Deletes the store's journals of generations below `generation` (ones a snapshot made unneeded). */
export async function removeJournalsBelow(layout: StoreLayout, generation: number): Promise<void> {
  for (const file of await listJournals(layout)) {
    if (file.generation < generation) await fs.rm(file.path, { force: true }).catch(() => undefined);
  }
}
