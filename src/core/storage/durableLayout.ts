import { join } from 'node:path';
import type { SnapshotPayload } from './snapshot';
import { fsp as fs } from './storageFs';

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
