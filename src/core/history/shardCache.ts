import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fsp as fs } from '../storage/storageFs';
import { join } from 'node:path';
import type { RecordCipher } from '../storage/cipher';
import type { Database, SqlJsStatic } from './sqlLoader';
import { HistoryError } from './historyErrors';
import type { ShardInfo } from './shardIndex';
import { openShardFile } from './shardSeal';

export interface ShardCacheOptions {
  /** Open shards are evicted, least recently used first, past this many bytes. @default 16 MiB */
  readonly maxBytes?: number;
  /** Every shard is closed after this long without a query: paging has stopped. @default 30000 */
  readonly idleMs?: number;
  /** Opens sealed (encrypted) shards; plain shards open without it. */
  readonly cipher?: RecordCipher;
}

const shardPageCacheKiB = 256;

interface OpenShard {
  readonly info: ShardInfo;
  readonly db: Database;
  /** The bytes sql.js runs on (it does not copy them): reusable only after db.close(). */
  readonly buffer: Buffer;
}

/**
 * The shards being browsed, kept open while the user pages (a first page of a cold shard costs
 * reading, hashing and opening it; the next pages cost a query), bounded by memory and closed
 * when paging stops, so memory stays bounded whatever the archive's size.
 */
export class ShardCache {
  private readonly open = new Map<string, OpenShard>();
  private bytes = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly maxBytes: number;
  private readonly idleMs: number;
  private readonly cipher: RecordCipher | undefined;

  constructor(
    private readonly SQL: SqlJsStatic,
    private readonly shardsDir: string,
    options: ShardCacheOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.idleMs = options.idleMs ?? 30_000;
    this.cipher = options.cipher;
  }

  get openCount(): number {
    return this.open.size;
  }
  get openBytes(): number {
    return this.bytes;
  }

  /**
   * The open database of a shard, verified against its sha256 when read from disk.
   * Rejects with HistoryError('corruptShard') when it fails; the caller quarantines it.
   */
  async get(info: ShardInfo): Promise<Database> {
    this.armIdle();
    const cached = this.open.get(info.file);
    if (cached) {
      // Map order is the LRU order: re-insert to mark it most recently used.
      this.open.delete(info.file);
      this.open.set(info.file, cached);
      return cached.db;
    }
    // One open at a time, so a shard is never opened twice: a caller that waited may find it open.
    const opening = this.opening.then(() => this.load(info));
    this.opening = opening.then(
      () => undefined,
      () => undefined,
    );
    return opening;
  }
  private opening: Promise<void> = Promise.resolve();

  private async load(info: ShardInfo): Promise<Database> {
    const cached = this.open.get(info.file);
    if (cached) return cached.db;
    const read = await this.read(info);
    let { buffer, bytes } = read;
    if (createHash('sha256').update(bytes).digest('hex') !== info.sha256) {
      this.release(buffer);
      throw new HistoryError('corruptShard', `Archive shard ${info.file} fails its checksum.`);
    }
    let image: Uint8Array;
    try {
      image = await openShardFile(info.file, bytes, this.cipher);
    } catch (error) {
      this.release(buffer);
      throw error;
    }
    if (image !== bytes) {
      // A sealed shard: the file buffer is free again, the database runs on the opened image.
      this.release(buffer);
      buffer = bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    }
    const db = new this.SQL.Database(bytes);
    // The whole file is already in memory (emscripten's FS): SQLite's own page cache would be a
    // second copy of the hot pages, in a wasm heap that never shrinks. Keep it small.
    db.exec(`PRAGMA cache_size = -${shardPageCacheKiB}`);
    this.open.set(info.file, { info, db, buffer });
    this.bytes += info.bytes;
    this.evict(info.file);
    return db;
  }

  /**
   * Reads a shard into a buffer from a small free list. sql.js keeps the buffer it was opened
   * from (no copy) until close(); after that the buffer is reused for the next shard. A fresh
   * buffer per shard was garbage the moment its shard closed, and while paging through a large
   * archive that garbage, not the open shards, was most of the resident memory.
   */
  private async read(info: ShardInfo): Promise<{ buffer: Buffer; bytes: Buffer }> {
    let handle: FileHandle;
    try {
      handle = await fs.open(join(this.shardsDir, info.file), 'r');
    } catch (error) {
      throw new HistoryError('corruptShard', `Archive shard ${info.file} is missing.`, { cause: error });
    }
    try {
      const size = (await handle.stat()).size;
      if (size !== info.bytes) throw new HistoryError('corruptShard', `Archive shard ${info.file} has the wrong size.`);
      const index = this.free.findIndex((buffer) => buffer.length >= size);
      // Rounded up so that buffers fit the next shards too (sizes vary a little under the cap).
      const buffer = index >= 0 ? (this.free.splice(index, 1)[0] as Buffer) : Buffer.allocUnsafe(Math.ceil(size / 1048576) * 1048576 || 1);
      let offset = 0;
      try {
        while (offset < size) {
          const { bytesRead } = await handle.read(buffer, offset, size - offset, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
        }
      } catch (error) {
        this.release(buffer);
        throw error;
      }
      return { buffer, bytes: buffer.subarray(0, offset) };
    } finally {
      await handle.close();
    }
  }
  private free: Buffer[] = [];

  private release(buffer: Buffer): void {
    if (this.free.length < 2) this.free.push(buffer);
  }

  private evict(keep: string): void {
    for (const [file, shard] of this.open) {
      if (this.bytes <= this.maxBytes) break;
      if (file === keep) continue;
      this.closeOne(file, shard);
    }
  }

  private closeOne(file: string, shard: OpenShard): void {
    shard.db.close();
    this.release(shard.buffer);
    this.open.delete(file);
    this.bytes -= shard.info.bytes;
  }

  /** Closes one shard (before it is deleted or quarantined). */
  forget(file: string): void {
    const shard = this.open.get(file);
    if (shard) this.closeOne(file, shard);
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.closeAll(), this.idleMs);
    // Browsing state must never keep the extension host (or a test) alive.
    this.idleTimer.unref();
  }

  closeAll(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const [file, shard] of [...this.open]) this.closeOne(file, shard);
    // Paging has stopped: give the buffers back too.
    this.free = [];
  }
}
