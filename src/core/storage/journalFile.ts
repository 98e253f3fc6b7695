import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncDirectory } from './atomicFile';
import type { RecordCipher } from './cipher';
import { encodeJournalHeader } from './journalFormat';
import { fsp as fs, storageFs } from './storageFs';
import { toStorageError } from './storageIo';

/** What a journal uses of its open file: a FileHandle, or an {@link FdHandle}. */
export interface JournalHandle {
  readonly fd: number;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** A file descriptor opened synchronously, with the promise methods of a FileHandle that a journal uses. */
class FdHandle implements JournalHandle {
  private closed = false;

  constructor(readonly fd: number) {}

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    // A closed descriptor's number may belong to another file by now: never write through it.
    if (this.closed) return Promise.reject(Object.assign(new Error('the journal file is closed'), { code: 'EBADF' }));
    return new Promise((resolve, reject) =>
      storageFs().write(this.fd, buffer, offset, length, position, (error, bytesWritten) =>
        error ? reject(error) : resolve({ bytesWritten }),
      ),
    );
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => storageFs().fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => storageFs().ftruncate(this.fd, length, (error) => (error ? reject(error) : resolve())));
  }

  close(): Promise<void> {
    // Once only: a second close could close a descriptor since reused for another file.
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve, reject) => storageFs().close(this.fd, (error) => (error ? reject(error) : resolve())));
  }
}

/** One open journal file, positioned at the end of its last good record. */
export interface JournalFile {
  readonly path: string;
  readonly generation: number;
  readonly handle: JournalHandle;
  /** Seals payloads when the file's header says it is encrypted. */
  readonly cipher: RecordCipher | undefined;
  size: number;
  records: number;
  /** crc32 of the file's bytes up to `size` (header included): what a store's manifest records. */
  crc: number;
  /** The first acknowledged point past the header (see JournalEnd.head); unset until a record is. */
  head?: JournalHead;
}

/** A length and the crc32 of the file's bytes up to it. */
export interface JournalHead {
  readonly bytes: number;
  readonly crc: number;
}

/**
 * Where a journal's acknowledged bytes end: everything up to `bytes` is synced, holds the records
 * through `sequence`, and has the crc32 `crc`. A store's manifest keeps these so that opening can
 * tell a file cut or damaged after the fact from a crash's torn write.
 */
export interface JournalEnd {
  readonly generation: number;
  readonly sequence: number;
  readonly bytes: number;
  readonly crc: number;
  /**
   * An early acknowledged point of the same file (its header and first record or batch). A file
   * cut short of `bytes` is a prefix of ours only when this still matches: another store's journal
   * copied over ours has valid frames too, and not one of them may be replayed.
   */
  readonly head?: JournalHead;
}

/** Creates a new journal file (header written and synced, directory entry synced). */
export async function createJournalFile(
  path: string,
  generation: number,
  cipher: RecordCipher | undefined,
  options: { readonly manifested?: boolean } = {},
): Promise<JournalFile> {
  let handle: JournalHandle | undefined;
  try {
    handle = await fs.open(path, 'wx', 0o600);
    const header = encodeJournalHeader(generation, cipher?.keyFingerprint, options.manifested);
    await writeAll(handle, header, 0);
    await handle.datasync();
    await fsyncDirectory(dirname(path));
    return { path, generation, handle, cipher, size: header.length, records: 0, crc: crc32(header) };
  } catch (error) {
    // Only a file this call created goes: on EEXIST the journal there is someone's data.
    if (handle) {
      await handle.close().catch(() => undefined);
      await fs.rm(path, { force: true }).catch(() => undefined);
    }
    throw toStorageError(error, `create the journal ${path}`);
  }
}

/**
 * Creates a new journal file exclusively and writes its header, at once and without syncing
 * anything: the first append's fdatasync covers the header, and the caller syncs the directory
 * entry itself (before it acknowledges anything). For a process whose next step waits on it.
 */
export function createJournalFileSync(path: string, generation: number, cipher: RecordCipher | undefined): JournalFile {
  let fd: number | undefined;
  try {
    fd = storageFs().openSync(path, 'wx', 0o600);
    const header = encodeJournalHeader(generation, cipher?.keyFingerprint);
    writeAllSync(fd, header, 0);
    return { path, generation, handle: new FdHandle(fd), cipher, size: header.length, records: 0, crc: crc32(header) };
  } catch (error) {
    if (fd !== undefined) {
      storageFs().closeSync(fd);
      storageFs().rmSync(path, { force: true });
    }
    throw toStorageError(error, `create the journal ${path}`);
  }
}

/** Opens an existing, already scanned journal for appending after its last good record. */
export async function openJournalFile(
  path: string,
  generation: number,
  cipher: RecordCipher | undefined,
  validLength: number,
  records: number,
  crc: number,
  head?: JournalHead,
): Promise<JournalFile> {
  try {
    const handle = await fs.open(path, 'r+');
    return { path, generation, handle, cipher, size: validLength, records, crc, head };
  } catch (error) {
    throw toStorageError(error, `open the journal ${path}`);
  }
}

/** Writes all of `data` at `position` with synchronous writes (a short write goes on where it stopped). */
export function writeAllSync(fd: number, data: Uint8Array, position: number): void {
  for (let written = 0; written < data.length;) {
    written += storageFs().writeSync(fd, data, written, data.length - written, position + written);
  }
}

/** Writes all of `data` at `position` (a short write goes on where it stopped). */
export async function writeAll(handle: JournalHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}
