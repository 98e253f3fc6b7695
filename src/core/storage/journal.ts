import { crc32 } from 'node:zlib';
import { StorageError } from './errors';
import type { JournalEnd, JournalFile } from './journalFile';
import { writeAll, writeAllSync } from './journalFile';
import { encodeFrame, recordAssociatedData } from './journalFormat';
import { toStorageError } from './storageIo';

export type { JournalEnd, JournalFile, JournalHandle, JournalHead } from './journalFile';
export { createJournalFile, createJournalFileSync, openJournalFile } from './journalFile';

function encodeFrames(file: JournalFile, batch: readonly PendingAppend[], firstSequence: number): Buffer {
  const frames = batch.map((entry, index) => {
    const sequence = firstSequence + index;
    const payload = file.cipher ? file.cipher.seal(entry.payload, recordAssociatedData(file.generation, sequence)) : entry.payload;
    return encodeFrame(sequence, payload);
  });
  return frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
}

function acknowledge(batch: readonly PendingAppend[], firstSequence: number): void {
  batch.forEach((entry, index) => {
    try {
      entry.onDurable(firstSequence + index);
      entry.resolve();
    } catch (error) {
      entry.reject(error);
    }
  });
}

function notifyWritten(entry: PendingAppend): void {
  try {
    entry.onWritten?.();
  } catch {
    // A listener's failure is its own; the record goes on to disk all the same.
  }
}

export interface JournalOptions {
  /**
   * Write each batch with a synchronous write on the calling thread (the sync still runs in the
   * background): for small records that a process acts on once they are in the file (readable by
   * another process, kept through a crash of this one), where a write costs less than a trip
   * through the thread pool. @default false
   */
  readonly writeOnCallingThread?: boolean;
}

interface PendingAppend {
  readonly kind: 'append';
  readonly payload: Uint8Array;
  /** Runs synchronously, in commit order, once the record is on disk: the store applies it here. */
  readonly onDurable: (sequence: number) => void;
  /** Runs once the record is written, before the sync. */
  readonly onWritten: (() => void) | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Appends written to the file ahead of their turn, while an earlier batch's sync ran (only with
 * `writeOnCallingThread`): their turn in the flush loop is just the sync.
 */
interface PendingWritten {
  readonly kind: 'written';
  readonly batch: PendingAppend[];
  readonly file: JournalFile;
  /** Where their bytes begin: the end of the batch before them. */
  readonly start: number;
  readonly length: number;
  readonly firstSequence: number;
  /** crc32 of the file through the end of this item's bytes. */
  readonly crc: number;
}

interface PendingRotation {
  readonly kind: 'rotate';
  readonly next: JournalFile;
  /** Runs synchronously at the switch: every earlier record is applied, no later one yet. */
  readonly onSwitch: (sealed: JournalEnd) => void;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The append side of a store's journal, across generations. Commits are queued and written by one
 * flush loop: everything queued while a sync runs goes out in the next single write and shares
 * one fdatasync (group commit). A commit resolves only after its sync. A failed write or sync is
 * cut back (ftruncate) to the last acknowledged byte, so the file stays well formed and a later
 * commit can succeed.
 */
export class Journal {
  private readonly queue: (PendingAppend | PendingWritten | PendingRotation)[] = [];
  /**
   * With `writeOnCallingThread`, while a batch's sync runs: how far the file is written (bytes
   * and sequence), so that appends made meanwhile go into the file at once, behind it, and wait
   * only for a sync. A record's identity in the file then never waits on the disk.
   */
  private ahead: { file: JournalFile; end: number; sequence: number; crc: number } | undefined;
  private flushing: Promise<void> | undefined;
  /** The turn's end, when the next write begins unless {@link flushNow} begins it sooner. */
  private turnEnd: NodeJS.Immediate | undefined;
  private needsRepair: unknown;
  private closed = false;

  constructor(
    private file: JournalFile,
    private lastSequence: number,
    private readonly options: JournalOptions = {},
  ) {}

  get generation(): number {
    return this.file.generation;
  }
  get size(): number {
    return this.file.size;
  }
  get records(): number {
    return this.file.records;
  }
  get sequence(): number {
    return this.lastSequence;
  }
  get path(): string {
    return this.file.path;
  }
  /** The acknowledged end of the current generation; read synchronously, its fields agree. */
  get end(): JournalEnd {
    const { generation, size, crc, head } = this.file;
    return { generation, sequence: this.lastSequence, bytes: size, crc, ...(head ? { head } : {}) };
  }

  /**
   * Appends one record; resolves once it is on disk. `onWritten` runs as soon as the record is in
   * the file (the OS's cache: another process reads it, a crash of this one keeps it), before the
   * sync, for a caller that may act on a record a process crash cannot lose while it waits for
   * one a power cut cannot lose.
   */
  append(payload: Uint8Array, onDurable: (sequence: number) => void, onWritten?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('closed', 'The store is closed.'));
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'append', payload, onDurable, onWritten, resolve, reject });
      this.kick();
    });
  }

  /** Switches appends to `next` after every record queued before this call is on disk. */
  rotate(next: JournalFile, onSwitch: (sealed: JournalEnd) => void): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('closed', 'The store is closed.'));
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'rotate', next, onSwitch, resolve, reject });
      this.kick();
    });
  }

  /** Resolves when everything queued so far has been written (or failed). */
  async drain(): Promise<void> {
    // Appends that arrive while a write is in flight go out right after it; wait for those too.
    do {
      this.flushNow();
      if (this.flushing) await this.flushing;
    } while (this.flushing || this.queue.length > 0);
  }

  /**
   * Begins writing what is queued now rather than at the end of this turn of the event loop. With
   * `writeOnCallingThread`, the records are in the file when this returns, even while an earlier
   * batch's sync runs (unless a rotation or a repair is in the way); otherwise a write in flight
   * makes them go out right after it.
   */
  flushNow(): void {
    if (this.turnEnd) clearImmediate(this.turnEnd);
    this.turnEnd = undefined;
    if (this.flushing) {
      if (this.options.writeOnCallingThread) this.writeAhead();
      return;
    }
    if (this.queue.length === 0) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // Records written ahead in the meantime still count on it; the loop below syncs them.
      if (this.queue.length === 0) this.ahead = undefined;
      // An append may have arrived after the loop saw an empty queue but before this ran: it
      // already waited its turn, so it goes now (a drain waiting on this sees the new write).
      if (this.queue.length > 0) this.flushNow();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    await this.file.handle.close().catch(() => undefined);
  }

  private kick(): void {
    // While a sync runs, a journal that writes on the calling thread still writes at the turn's
    // end (ahead of that sync); any other waits for the flush loop.
    if (this.turnEnd || (this.flushing && !this.options.writeOnCallingThread)) return;
    // The write waits for the end of this turn of the event loop, so that appends made in the same
    // turn (a command's record and the scheduler's `running` record; a stage's end and the job's
    // exit; the records of several jobs read from one nudge) share one write and one fdatasync.
    // Each is still acknowledged only after that sync.
    this.turnEnd = setImmediate(() => this.flushNow());
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const first = this.queue[0] as PendingAppend | PendingWritten | PendingRotation;
      if (first.kind === 'rotate') {
        this.queue.shift();
        await this.switchTo(first);
        continue;
      }
      if (first.kind === 'written') {
        let count = 0;
        while (count < this.queue.length && this.queue[count]?.kind === 'written') count++;
        await this.syncWritten(this.queue.splice(0, count) as PendingWritten[]);
        continue;
      }
      let count = 0;
      while (count < this.queue.length && this.queue[count]?.kind === 'append') count++;
      await this.writeBatch(this.queue.splice(0, count) as PendingAppend[]);
    }
  }

  private async switchTo(rotation: PendingRotation): Promise<void> {
    const previous = this.file;
    const sealed = this.end;
    this.file = rotation.next;
    try {
      rotation.onSwitch(sealed);
    } catch (error) {
      rotation.reject(error);
      return;
    }
    rotation.resolve();
    await previous.handle.close().catch(() => undefined);
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    const file = this.file;
    const start = file.size;
    const firstSequence = this.lastSequence + 1;
    try {
      if (this.needsRepair !== undefined) await this.repair(file);
      const data = encodeFrames(file, batch, firstSequence);
      if (this.options.writeOnCallingThread) {
        writeAllSync(file.handle.fd, data, start);
        this.ahead = { file, end: start + data.length, sequence: firstSequence + batch.length - 1, crc: crc32(data, file.crc) };
      } else {
        await writeAll(file.handle, data, start);
      }
      for (const entry of batch) notifyWritten(entry);
      // Before the sync, so the three fields below change together once it returns.
      const crc = crc32(data, file.crc);
      await file.handle.datasync();
      file.size = start + data.length;
      file.records += batch.length;
      file.crc = crc;
      file.head ??= { bytes: file.size, crc };
      this.lastSequence = firstSequence + batch.length - 1;
    } catch (error) {
      await this.fail(file, error, batch);
      return;
    }
    acknowledge(batch, firstSequence);
  }

  /**
   * Writes the appends waiting at the head of the queue into the file now, behind the batch whose
   * sync is running (and any written the same way since); the flush loop syncs them in their turn.
   * Not across a rotation, nor into a file that needs its tail cut first.
   */
  private writeAhead(): void {
    const ahead = this.ahead;
    if (!ahead || ahead.file !== this.file || this.needsRepair !== undefined) return;
    let index = 0;
    while (index < this.queue.length && this.queue[index]?.kind === 'written') index++;
    let count = 0;
    while (index + count < this.queue.length && this.queue[index + count]?.kind === 'append') count++;
    if (count === 0) return;
    const batch = this.queue.splice(index, count) as PendingAppend[];
    const firstSequence = ahead.sequence + 1;
    let data: Buffer;
    try {
      data = encodeFrames(ahead.file, batch, firstSequence);
      writeAllSync(ahead.file.handle.fd, data, ahead.end);
    } catch (error) {
      // Whatever part of it reached the file is cut before the next write.
      this.needsRepair = error;
      this.ahead = undefined;
      const storageError = toStorageError(error, 'save to the journal');
      for (const entry of batch) entry.reject(storageError);
      return;
    }
    for (const entry of batch) notifyWritten(entry);
    const crc = crc32(data, ahead.crc);
    this.queue.splice(index, 0, { kind: 'written', batch, file: ahead.file, start: ahead.end, length: data.length, firstSequence, crc });
    ahead.crc = crc;
    ahead.end += data.length;
    ahead.sequence += batch.length;
  }

  /** The sync of batches written ahead: they follow the last acknowledged byte, in order. */
  private async syncWritten(items: PendingWritten[]): Promise<void> {
    const file = this.file;
    const batch = items.flatMap((item) => item.batch);
    try {
      const first = items[0] as PendingWritten;
      // A failure since they were written cut them; a rotation would never have let them through.
      if (first.file !== file || first.start !== file.size) {
        throw new StorageError('ioError', 'Records written ahead were cut from the journal before their sync.');
      }
      await file.handle.datasync();
      for (const item of items) {
        file.size = item.start + item.length;
        file.records += item.batch.length;
        file.crc = item.crc;
        file.head ??= { bytes: file.size, crc: item.crc };
        this.lastSequence = item.firstSequence + item.batch.length - 1;
      }
    } catch (error) {
      await this.fail(file, error, batch);
      return;
    }
    for (const item of items) acknowledge(item.batch, item.firstSequence);
  }

  /**
   * A write or sync failed: the file is cut back to its last acknowledged byte, which takes every
   * record written after it too, so those written ahead fail with this batch.
   */
  private async fail(file: JournalFile, error: unknown, batch: PendingAppend[]): Promise<void> {
    this.needsRepair = error;
    this.ahead = undefined;
    const cut = this.queue.filter((item): item is PendingWritten => item.kind === 'written');
    for (let index = this.queue.length - 1; index >= 0; index--) if (this.queue[index]?.kind === 'written') this.queue.splice(index, 1);
    await this.repair(file).catch(() => undefined);
    const storageError = toStorageError(error, 'save to the journal');
    for (const entry of [...batch, ...cut.flatMap((item) => item.batch)]) entry.reject(storageError);
  }

  /** Cuts partial bytes of a failed write, so the journal ends at its last acknowledged record. */
  private async repair(file: JournalFile): Promise<void> {
    await file.handle.truncate(file.size);
    await file.handle.datasync();
    this.needsRepair = undefined;
  }
}
