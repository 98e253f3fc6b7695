import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../storage/atomicFile';
import { HistoryError } from './historyErrors';
import type { HistoryLog, HistoryRecord, LogDamage, ReplayResult } from './historyLog';

const imageMagic = Buffer.from('LLHIMG01', 'ascii');
const headerBytes = imageMagic.length + 32;

/**
 * A simple file-backed HistoryLog until the storage core's DurableStore is wired in:
 * `history.journal` holds one record per line (`crc32hex json\n`, fdatasync'd, group-committed),
 * `history.image` the sql.js image behind a magic and its sha256, written atomically.
 */
export class FileHistoryLog implements HistoryLog {
  private handle: FileHandle | undefined;
  private pending: { data: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushing = false;
  private lock: Promise<void> = Promise.resolve();
  journalBytes = 0;

  constructor(readonly directory: string) {}

  private get journalPath(): string {
    return join(this.directory, 'history.journal');
  }
  private get imagePath(): string {
    return join(this.directory, 'history.image');
  }

  /** Serialises file operations: appends never interleave with a journal rewrite. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lock.then(work);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  append(records: readonly HistoryRecord[]): Promise<void> {
    const data = records.map((record) => encodeLine(record)).join('');
    return new Promise((resolve, reject) => {
      this.pending.push({ data, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Group commit: whatever queued while one fdatasync ran goes out together in the next. */
  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const data = batch.map((item) => item.data).join('');
      try {
        await this.exclusive(async () => {
          const handle = await this.journal();
          await handle.write(data);
          await handle.datasync();
          this.journalBytes += Buffer.byteLength(data);
        });
        for (const item of batch) item.resolve();
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    this.flushing = false;
  }

  private async journal(): Promise<FileHandle> {
    if (!this.handle) {
      await fs.mkdir(this.directory, { recursive: true });
      this.handle = await fs.open(this.journalPath, 'a', 0o600);
    }
    return this.handle;
  }

  async readImage(): Promise<Uint8Array | undefined> {
    let file: Buffer;
    try {
      file = await fs.readFile(this.imagePath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const body = file.subarray(headerBytes);
    const ok = file.length >= headerBytes && file.subarray(0, imageMagic.length).equals(imageMagic) && createHash('sha256').update(body).digest().equals(file.subarray(imageMagic.length, headerBytes));
    if (!ok) throw new HistoryError('corruptActive', 'The saved job history image fails its checksum.');
    return body;
  }

  async writeImage(bytes: Uint8Array): Promise<void> {
    await fs.mkdir(this.directory, { recursive: true });
    const digest = createHash('sha256').update(bytes).digest();
    await writeFileAtomic(this.imagePath, Buffer.concat([imageMagic, digest, bytes]));
  }

  async replay(): Promise<ReplayResult> {
    return this.exclusive(async () => {
      let text: Buffer;
      try {
        text = await fs.readFile(this.journalPath);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [] };
        throw error;
      }
      const records: HistoryRecord[] = [];
      let offset = 0;
      let damageAt = -1;
      let validAfterDamage = 0;
      while (offset < text.length) {
        const end = text.indexOf(0x0a, offset);
        const line = text.subarray(offset, end < 0 ? text.length : end);
        const record = end < 0 ? undefined : decodeLine(line);
        if (record === undefined) {
          if (damageAt < 0) damageAt = offset;
        } else if (damageAt >= 0) validAfterDamage++;
        else records.push(record);
        if (end < 0) break;
        offset = end + 1;
      }
      this.journalBytes = damageAt < 0 ? text.length : damageAt;
      if (damageAt < 0) return { records };
      let damage: LogDamage;
      if (validAfterDamage === 0) {
        // A torn tail: the crash cut the last append short. Nothing after it was acknowledged.
        await fs.truncate(this.journalPath, damageAt);
        damage = { kind: 'tornTail', bytes: text.length - damageAt, droppedRecord: text.indexOf(0x0a, damageAt) >= 0 };
      } else {
        const quarantinedTo = await this.moveToQuarantine(this.journalPath, 'journal');
        await writeFileAtomic(this.journalPath, text.subarray(0, damageAt));
        damage = { kind: 'corrupt', quarantinedTo, lostRecords: validAfterDamage + 1 };
      }
      return { records, damage };
    });
  }

  truncate(upToSeq: number): Promise<void> {
    return this.exclusive(async () => {
      await this.handle?.close();
      this.handle = undefined;
      let text = '';
      try {
        text = await fs.readFile(this.journalPath, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      const kept = text.split('\n').filter((line) => {
        const record = line ? decodeLine(Buffer.from(line)) : undefined;
        return record !== undefined && record.seq > upToSeq;
      });
      const data = kept.map((line) => `${line}\n`).join('');
      await writeFileAtomic(this.journalPath, data);
      this.journalBytes = Buffer.byteLength(data);
    });
  }

  async quarantineImage(reason: string): Promise<string> {
    return this.moveToQuarantine(this.imagePath, reason);
  }

  private async moveToQuarantine(path: string, label: string): Promise<string> {
    const folder = join(this.directory, 'quarantine');
    await fs.mkdir(folder, { recursive: true });
    const target = join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${label.replace(/[^\w-]/g, '_')}-${path.split(/[\\/]/).pop() ?? 'file'}`);
    await fs.copyFile(path, target);
    await fs.rm(path, { force: true });
    return target;
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      await this.handle?.close();
      this.handle = undefined;
    });
  }
}

function encodeLine(record: HistoryRecord): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

function decodeLine(line: Buffer): HistoryRecord | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const json = line.subarray(9);
  if (crc32(json).toString(16).padStart(8, '0') !== line.subarray(0, 8).toString('ascii')) return undefined;
  try {
    return JSON.parse(json.toString('utf8')) as HistoryRecord;
  } catch {
    return undefined;
  }
}
