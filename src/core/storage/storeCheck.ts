import { crc32 } from 'node:zlib';
import { basename } from 'node:path';
import type { StoreLayout } from './durableLayout';
import { listJournals, snapshotPath } from './durableLayout';
import { StorageError } from './errors';
import { scanJournal } from './journalFormat';
import { checkAcknowledgedPrefix, snapshotIsOurs } from './recoveryChecks';
import { readSnapshotHeader } from './snapshot';
import { fsp as fs } from './storageFs';
import type { StoreManifest } from './storeManifest';
import { acknowledgedSequence, readManifest } from './storeManifest';

/**
 * `ok`: every file verifies; `damaged`: opening would set something aside (see `problems`);
 * `empty`: no file of the store exists (never written); `notes` are what opening fixes without
 * loss (a torn tail after a crash, a store still open and writing).
 */
export interface StoreCheck {
  readonly status: 'ok' | 'damaged' | 'empty';
  readonly problems: readonly string[];
  readonly notes: readonly string[];
  /** The snapshot's generation (the first journal generation after it), from its header. */
  readonly generation: number | undefined;
  /** The last acknowledged record the manifest names. */
  readonly acknowledgedSequence: number | undefined;
  /** Whether the manifest says the store was closed cleanly (false while it is open). */
  readonly cleanClose: boolean | undefined;
  readonly encrypted: boolean;
  /** Bytes of the store's own files (snapshot, previous snapshot, journals, manifest, ack mark). */
  readonly bytes: number;
}

/**
 * Checks a durable store's files without changing them, with the checks opening uses
 * (durableRecovery.ts): the manifest's checksum, the snapshot's header and payload checksums and
 * whether it is the one the manifest names, each journal's frames and its acknowledged prefix.
 * It reads; it never decrypts (an encrypted store is checked by its checksums, which cover the
 * stored bytes) and never quarantines. Safe on a store another process has open: bytes appended
 * while it reads are past the manifest's end and read as a note at most.
 */
export async function checkStore(layout: StoreLayout): Promise<StoreCheck> {
  const problems: string[] = [];
  const notes: string[] = [];
  let bytes = 0;
  let encrypted = false;
  const names = await fs.readdir(layout.directory).catch(() => [] as string[]);
  for (const name of names) {
    if (name === layout.name || !name.startsWith(`${layout.name}.`)) continue;
    const rest = name.slice(layout.name.length + 1);
    if (!/^(snapshot|snapshot\.previous|manifest|ackmark|\d{8,}\.journal)$/.test(rest)) continue;
    bytes += (await fs.stat(`${layout.directory}/${name}`).catch(() => undefined))?.size ?? 0;
  }

  const read = await readManifest(layout).catch((error: unknown) => ({ kind: 'damaged' as const, detail: String(error) }));
  const manifest: StoreManifest | undefined = read.kind === 'ok' ? read.manifest : undefined;
  if (read.kind === 'damaged') problems.push(`the manifest is damaged (${read.detail})`);

  let generation: number | undefined;
  const snapshotFile = snapshotPath(layout);
  const snapshot = await fs.readFile(snapshotFile).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') problems.push(`the snapshot cannot be read (${error.code ?? error.message})`);
    return undefined;
  });
  const journals = await listJournals(layout).catch(() => []);
  if (snapshot) {
    try {
      const header = readSnapshotHeader(snapshot);
      generation = header.generation;
      encrypted ||= header.encrypted;
      if (!snapshotIsOurs(manifest, header, crc32(snapshot), journals)) {
        problems.push(`the snapshot (generation ${header.generation}) is not the one the manifest names`);
      }
    } catch (error) {
      problems.push(StorageError.is(error) ? error.message : `the snapshot is damaged (${String(error)})`);
    }
  } else if (manifest?.snapshot) {
    problems.push(`the snapshot of generation ${manifest.snapshot.generation} is missing`);
  }

  for (const journal of journals) {
    const journalBytes = await fs.readFile(journal.path).catch(() => undefined);
    const file = basename(journal.path);
    if (!journalBytes) {
      problems.push(`journal ${file} cannot be read`);
      continue;
    }
    const end = manifest?.journals.find((known) => known.generation === journal.generation);
    const loss = end && checkAcknowledgedPrefix(journalBytes, end, file);
    if (loss) problems.push(loss.detail);
    const scan = scanJournal(journalBytes);
    if (scan.header === 'corrupt') problems.push(`journal ${file} has a damaged header (${scan.detail})`);
    else if (scan.header === 'torn') notes.push(`journal ${file} has a torn header (a crash while it was created)`);
    else {
      encrypted ||= scan.header.keyFingerprint !== undefined && scan.header.keyFingerprint !== '';
      if (scan.damage?.kind === 'middle') problems.push(`journal ${file} is damaged at byte ${scan.damage.offset}, with records after it`);
      else if (scan.damage && !loss) {
        notes.push(`journal ${file} ends in ${scan.damage.bytes} bytes of an unfinished write (cut when the store next opens)`);
      }
    }
  }
  for (const end of manifest?.journals ?? []) {
    const beforeSnapshot = generation !== undefined && end.generation < generation;
    if (!beforeSnapshot && !journals.some((journal) => journal.generation === end.generation)) {
      problems.push(`journal generation ${end.generation}, with records through ${end.sequence}, is missing`);
    }
  }
  if (read.kind === 'missing' && (snapshot || journals.length > 0)) {
    notes.push('the manifest is missing (written again when the store next opens)');
  }
  const empty = !snapshot && journals.length === 0 && read.kind === 'missing';
  return {
    status: empty ? 'empty' : problems.length > 0 ? 'damaged' : 'ok',
    problems,
    notes,
    generation: generation ?? (journals.length > 0 ? journals[0]!.generation : undefined),
    acknowledgedSequence: manifest ? acknowledgedSequence(manifest) : undefined,
    cleanClose: manifest?.clean,
    encrypted,
    bytes,
  };
}

/** The durable stores in `directory`: every name with a manifest, snapshot or journal file. */
export async function findStores(directory: string): Promise<string[]> {
  const names = new Set<string>();
  for (const entry of await fs.readdir(directory).catch(() => [] as string[])) {
    const match = /^([A-Za-z0-9_-][A-Za-z0-9_.-]*?)\.(manifest|snapshot|\d{8,}\.journal)$/.exec(entry);
    if (match) names.add(match[1]!);
  }
  return [...names].sort();
}
