import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { StoreLayout } from './durableLayout';
import type { JournalEnd } from './journal';
import { storageFs } from './storageFs';

/**
 * The journal's acknowledged end, noted after every acknowledged batch with one small write and
 * no sync: `<name>.ackmark`.
 *
 * Why: the manifest (storeManifest.ts) is synced, but it advances only every second or so, off the
 * commit path, so after a crash the records acknowledged since its last advance could be cut by
 * outside damage (a sync tool, a person) and look exactly like a crash's torn write. A write that
 * is not synced still survives the crash of this process (it is in the page cache), so after a
 * process crash this mark names the exact end; after a power cut it may be older (or gone), which
 * only widens what may count as torn back to the manifest's synced end. It never names bytes that
 * are not on disk: it is written after the fdatasync that acknowledged them.
 *
 * Two 64-byte slots written in turn, each with its own checksum, so a torn write of one leaves the
 * other. A mark that does not verify is ignored: it is a hint that narrows, never the record.
 */
const SLOT_BYTES = 64;
const MAGIC = 0x4b41_4c4c; // 'LLAK'
const VERSION = 1;

export function ackMarkPath(layout: StoreLayout): string {
  return join(layout.directory, `${layout.name}.ackmark`);
}

/** A job journal's ack mark, written by its supervisor (src/supervisor/jobExecution.ts). */
export function jobAckMarkPath(journalPath: string): string {
  return `${journalPath}.ackmark`;
}

function encodeSlot(counter: number, end: JournalEnd): Buffer {
  const slot = Buffer.alloc(SLOT_BYTES);
  slot.writeUInt32LE(MAGIC, 0);
  slot.writeUInt16LE(VERSION, 4);
  slot.writeBigUInt64LE(BigInt(counter), 8);
  slot.writeUInt32LE(end.generation, 16);
  slot.writeBigUInt64LE(BigInt(end.sequence), 20);
  slot.writeBigUInt64LE(BigInt(end.bytes), 28);
  slot.writeUInt32LE(end.crc, 36);
  slot.writeUInt32LE(end.head?.bytes ?? 0, 40); // 0: no record acknowledged in this file yet
  slot.writeUInt32LE(end.head?.crc ?? 0, 44);
  slot.writeUInt32LE(crc32(slot.subarray(0, 48)), 48);
  return slot;
}

function decodeSlot(slot: Buffer): { counter: number; end: JournalEnd } | undefined {
  if (slot.length < 52 || slot.readUInt32LE(0) !== MAGIC || slot.readUInt16LE(4) !== VERSION) return undefined;
  if (crc32(slot.subarray(0, 48)) !== slot.readUInt32LE(48)) return undefined;
  const big = [slot.readBigUInt64LE(8), slot.readBigUInt64LE(20), slot.readBigUInt64LE(28)];
  if (big.some((value) => value > BigInt(Number.MAX_SAFE_INTEGER))) return undefined;
  const [counter, sequence, bytes] = big.map(Number) as [number, number, number];
  const headBytes = slot.readUInt32LE(40);
  const head = headBytes > 0 ? { head: { bytes: headBytes, crc: slot.readUInt32LE(44) } } : {};
  return { counter, end: { generation: slot.readUInt32LE(16), sequence, bytes, crc: slot.readUInt32LE(36), ...head } };
}

/** The newest slot that verifies, or undefined (no file, or nothing in it verifies). */
export function decodeAckMark(bytes: Buffer | undefined): JournalEnd | undefined {
  if (!bytes) return undefined;
  const slots = [decodeSlot(bytes.subarray(0, SLOT_BYTES)), decodeSlot(bytes.subarray(SLOT_BYTES, 2 * SLOT_BYTES))];
  let best: { counter: number; end: JournalEnd } | undefined;
  for (const slot of slots) if (slot && (!best || slot.counter > best.counter)) best = slot;
  return best?.end;
}

/** Keeps `<name>.ackmark` up to date. Every failure is swallowed after one log line: it is a hint. */
export class AckMark {
  private fd: number | undefined;
  private counter = 0;
  private scheduled = false;
  private failed = false;

  constructor(
    private readonly path: string,
    private readonly currentEnd: () => JournalEnd,
    private readonly onFailure: (message: string) => void,
  ) {
    try {
      this.fd = storageFs().openSync(path, 'w', 0o600);
    } catch (error) {
      this.fail(error);
    }
  }

  /** After an acknowledged commit: the end is written once per turn of the event loop, however many commits it acknowledged. */
  note(): void {
    if (this.fd === undefined || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.write();
    });
  }

  close(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd === undefined) return;
    try {
      storageFs().closeSync(fd);
    } catch {
      // Closing a hint file cannot lose anything.
    }
  }

  private write(): void {
    if (this.fd === undefined) return;
    const slot = encodeSlot(++this.counter, this.currentEnd());
    try {
      storageFs().writeSync(this.fd, slot, 0, SLOT_BYTES, (this.counter % 2) * SLOT_BYTES);
    } catch (error) {
      this.fail(error);
      this.close();
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.onFailure(`could not note the acknowledged end in ${this.path}: ${(error as Error).message}`);
  }
}
