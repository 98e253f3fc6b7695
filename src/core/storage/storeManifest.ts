import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from './atomicFile';
import type { JournalEnd } from './journal';
import type { StoreLayout } from './durableRecovery';
import { readFileIfExists, toStorageError } from './storageIo';

/**
 * A store's manifest: a small file, replaced atomically, that says where acknowledged data ends.
 * Without it a journal cut after the fact (a sync tool, a backup program, a person) looks exactly
 * like the torn last write of a crash. With it, opening checks each live journal against the
 * length and checksum of its acknowledged prefix; see docs/storage-durability.md.
 *
 * It is written at create, at every compaction, at every clean close (`clean: true`), on open
 * (`clean: false`, before anything is appended) and in between off the commit path (manifestKeeper.ts),
 * so after a crash the acknowledged end it names can trail the journal by up to about a second.
 */
export interface StoreManifest {
  /** The snapshot `<name>.snapshot` should hold, or undefined before the first one. */
  readonly snapshot: SnapshotRef | undefined;
  /**
   * The generation kept to repair from until a newer snapshot verified on disk: the snapshot in
   * `<name>.snapshot.previous` (`hasFile`), or the empty state, plus the journals from its generation.
   */
  readonly previous: (SnapshotRef & { readonly hasFile: boolean }) | undefined;
  /** The acknowledged end of every journal kept on disk, oldest generation first. */
  readonly journals: readonly JournalEnd[];
  /** Written by a clean close: nothing was appended after the ends above. */
  readonly clean: boolean;
  readonly createdAt: number;
  /** When the acknowledged end reached a sequence (the newest few), to date what a loss took. */
  readonly advances: readonly { readonly sequence: number; readonly at: number }[];
}

export interface SnapshotRef {
  readonly generation: number;
  readonly sequence: number;
  /** crc32 of the whole file as written (absent in manifests written before it was kept). */
  readonly crc?: number;
}

/**
 * Whether the file with crc32 `crc`, whose header says `generation`, is the snapshot `ref` names. Another generation
 * is not judged here (a compaction whose manifest was not yet written leaves a newer one).
 */
export function snapshotMatches(ref: SnapshotRef | undefined, generation: number, crc: number): boolean {
  return ref?.crc === undefined || ref.generation !== generation || crc === ref.crc;
}

const FORMAT = 'lifeline-store-manifest';
const VERSION = 1;
/** Enough to date a loss to within a few seconds over the last minutes of a busy store. */
export const MAX_ADVANCES = 64;

export function manifestPath(layout: StoreLayout): string {
  return join(layout.directory, `${layout.name}.manifest`);
}

/** Not `<name>.previous.snapshot`: that is the snapshot of a store named `<name>.previous`. */
export function previousSnapshotPath(layout: StoreLayout): string {
  return join(layout.directory, `${layout.name}.snapshot.previous`);
}

export function encodeManifest(manifest: StoreManifest): string {
  const body = JSON.stringify(manifest);
  return `{"format":"${FORMAT}","version":${VERSION},"crc32":${crc32(body)},"body":${body}}\n`;
}

/** A manifest whose checksum verifies, or a string saying why it is not one. */
export function decodeManifest(bytes: Buffer): StoreManifest | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null) return 'not an object';
  const record = parsed as { format?: unknown; version?: unknown; crc32?: unknown; body?: unknown };
  if (record.format !== FORMAT || record.version !== VERSION) return 'not a Lifeline store manifest';
  if (typeof record.body !== 'object' || record.body === null) return 'no body';
  // The body as written is the body as re-serialised: JSON.stringify of parsed JSON is stable.
  if (crc32(JSON.stringify(record.body)) !== record.crc32) return 'checksum mismatch';
  const body = record.body as StoreManifest;
  if (!Array.isArray(body.journals) || !Array.isArray(body.advances) || typeof body.clean !== 'boolean') return 'fields missing';
  return body;
}

export type ManifestRead =
  | { readonly kind: 'ok'; readonly manifest: StoreManifest }
  | { readonly kind: 'missing' }
  | {
      readonly kind: 'damaged';
      readonly detail: string;
    };

export async function readManifest(layout: StoreLayout): Promise<ManifestRead> {
  const bytes = await readFileIfExists(manifestPath(layout));
  if (!bytes) return { kind: 'missing' };
  const manifest = decodeManifest(bytes);
  return typeof manifest === 'string' ? { kind: 'damaged', detail: manifest } : { kind: 'ok', manifest };
}

export async function writeManifest(layout: StoreLayout, manifest: StoreManifest): Promise<void> {
  try {
    await writeFileAtomic(manifestPath(layout), encodeManifest(manifest));
  } catch (error) {
    throw toStorageError(error, `write the manifest of ${layout.name}`);
  }
}

/** The last sequence the manifest says was acknowledged. */
export function acknowledgedSequence(manifest: StoreManifest): number {
  let sequence = manifest.snapshot?.sequence ?? 0;
  for (const end of manifest.journals) sequence = Math.max(sequence, end.sequence);
  return sequence;
}

/** Adds an advance, keeping the newest {@link MAX_ADVANCES}. */
export function withAdvance(
  advances: readonly { sequence: number; at: number }[],
  sequence: number,
  at: number,
): { sequence: number; at: number }[] {
  const last = advances.at(-1);
  const next = last && last.sequence === sequence ? [...advances] : [...advances, { sequence, at }];
  return next.slice(-MAX_ADVANCES);
}

/**
 * When the records `from`..`to` (to: undefined = up to now) were acknowledged, as far as the
 * advances tell: after the last advance that had not reached `from`, before the first that
 * reached `to` (or `now`).
 */
export function acknowledgedBetween(
  manifest: StoreManifest,
  from: number,
  to: number | undefined,
  now: number,
): { from: number; to: number } {
  let start = manifest.createdAt;
  for (const advance of manifest.advances) if (advance.sequence < from) start = Math.max(start, advance.at);
  let end = now;
  if (to !== undefined) {
    for (const advance of manifest.advances) {
      if (advance.sequence >= to) {
        end = Math.min(end, advance.at);
        break;
      }
    }
  }
  return { from: start, to: end };
}
